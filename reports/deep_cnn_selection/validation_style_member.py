"""Validation-only choice between two committees of two validation-split deep_cnn runs
(reports/styles_selection.md, "A committee with a style member"): A, affine seeds 100 and 102;
B, affine seed 100 and styles seed 100. Errors on the 6,000 held-out digits as they are, and on the
same digits restyled by --augment styles with seed 0 (the tie-break). The runs:

    python -m digitnet.train --arch deep_cnn --augment affine --seed 100 --validation-split 0.1 \
        --output-dir runs/select/affine-20-v2            # and --seed 102 ... affine-20-s102-v2
    python -m digitnet.train --arch deep_cnn --augment styles --seed 100 --validation-split 0.1 \
        --output-dir runs/select/styles-loops-20
"""
import numpy as np
from selection_runs import HELD_OUT, load_runs, record, validation_digits

from digitnet.models import layers

TIE = 6  # errors: 0.1 points of 6,000
# affine-20-v2 and affine-20-s102-v2 are affine-20 and affine-20-s102 trained again (their models were
# not kept), with the same commands: not bit for bit the same runs, so their own histories count.
COMMITTEES = {"A": ["affine-20-v2", "affine-20-s102-v2"], "B": ["affine-20-v2", "styles-loops-20"]}

x, y = validation_digits()
restyled = np.asarray(layers.RandomAffine("styles", seed=0)(x, y, training=True))
models = load_runs(sorted({name for members in COMMITTEES.values() for name in members}))
missing = [name for members in COMMITTEES.values() for name in members if name not in models]
if missing:
    raise SystemExit(f"runs/select/{missing[0]}/model.keras is missing: train it with the command in the docstring")
errors, restyled_errors = {}, {}
for name, model in models.items():  # each run alone: its count is its history.csv's last epoch
    errors[name] = int((model.predict(x, batch_size=500, verbose=0).argmax(1) != y).sum())
for key, members in COMMITTEES.items():
    for images, found in ((x, errors), (restyled, restyled_errors)):
        averaged = sum(models[name].predict(images, batch_size=500, verbose=0) for name in members) / len(members)
        found[f"{key}: {' + '.join(members)}"] = int((averaged.argmax(1) != y).sum())
for key in errors:
    print(f"{key}: {errors[key]} validation errors of {HELD_OUT}, {restyled_errors.get(key, '-')} restyled", flush=True)
a, b = (errors[k] for k in restyled_errors)
ra, rb = restyled_errors.values()
chosen = "B" if b < a - TIE or (abs(a - b) <= TIE and rb < ra) else "A"
print(f"chosen by the rule: {chosen}")
record(__file__, errors, restyled_errors=restyled_errors, chosen=chosen)
