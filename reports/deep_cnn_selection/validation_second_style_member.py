"""Validation-only choice between committee/2's proportions and a committee of seven with a second
style member (reports/styles_selection.md, "A second style member"): A = 5/6 of the mean of two
affine runs + 1/6 of a styles run; B = 5/7 of the same affine mean + 2/7 of the mean of two styles
runs. Errors on the 6,000 held-out digits as they are, and on the same digits restyled by
--augment styles with seed 0 (the tie-break). The runs (the first three as in
validation_style_member.py):

    python -m digitnet.train --arch deep_cnn --augment styles --seed 101 --validation-split 0.1 \\
        --output-dir runs/select/styles-loops-20-s101
"""
import numpy as np
from selection_runs import HELD_OUT, load_runs, record, validation_digits

from digitnet.models import layers

TIE = 6  # errors: 0.1 points of 6,000
AFFINE = ["affine-20-v2", "affine-20-s102-v2"]
STYLES = {"A": ["styles-loops-20"], "B": ["styles-loops-20", "styles-loops-20-s101"]}
STYLE_SHARE = {"A": 1 / 6, "B": 2 / 7}  # the style members' share of committee/2 and of a committee of seven

x, y = validation_digits()
restyled = np.asarray(layers.RandomAffine("styles", seed=0)(x, y, training=True))
names = AFFINE + STYLES["B"]
models = load_runs(names)
missing = [name for name in names if name not in models]
if missing:
    raise SystemExit(f"runs/select/{missing[0]}/model.keras is missing: train it with the command in the docstring")
errors, restyled_errors = {}, {}
for images, found, alone in ((x, errors, True), (restyled, restyled_errors, False)):
    probabilities = {name: model.predict(images, batch_size=500, verbose=0) for name, model in models.items()}
    if alone:  # each run alone
        for name in names:
            found[name] = int((probabilities[name].argmax(1) != y).sum())
    affine = sum(probabilities[name] for name in AFFINE) / len(AFFINE)
    for key, members in STYLES.items():
        styles = sum(probabilities[name] for name in members) / len(members)
        mixed = (1 - STYLE_SHARE[key]) * affine + STYLE_SHARE[key] * styles
        found[f"{key}: affine mean x {1 - STYLE_SHARE[key]:.3f} + mean of {' + '.join(members)} x "
              f"{STYLE_SHARE[key]:.3f}"] = int((mixed.argmax(1) != y).sum())
for key in errors:
    print(f"{key}: {errors[key]} validation errors of {HELD_OUT}, {restyled_errors.get(key, '-')} restyled", flush=True)
key_a, key_b = (next(k for k in restyled_errors if k.startswith(f"{side}: ")) for side in "AB")
a, b, ra, rb = errors[key_a], errors[key_b], restyled_errors[key_a], restyled_errors[key_b]
chosen = "B" if b < a - TIE or (abs(a - b) <= TIE and rb < ra) else "A"
print(f"chosen by the rule: {chosen}")
record(__file__, errors, restyled_errors=restyled_errors, chosen=chosen)
