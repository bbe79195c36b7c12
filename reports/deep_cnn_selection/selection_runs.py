"""What the validation scripts here share: the 6,000 held-out digits and the validation runs' models.

A run with --validation-split 0.1 trains on the first 54,000 training images and
holds out the last 6,000 (data.split_validation); its folder is runs/select/<name>/. Only its
config.json, history.csv and metrics.json are committed here (reports/deep_cnn_selection/<name>/),
not its model, so the scripts need the runs retrained (the commands are in their docstrings). Each
script writes the validation errors it prints to <script>.json beside it.
"""
import datetime
import itertools
import os
from pathlib import Path

import keras

import digitnet.models.layers  # noqa: F401 (registers the layers that width-normalised runs hold)
from digitnet.core.images import to_model_input
from digitnet.data.sources import load_digits

TRAINED_ON = 54000
HELD_OUT = 6000
HERE = Path(__file__).resolve().parent


def validation_digits():
    """(images float32 [6000, 28, 28, 1] in [0, 1], labels): the digits no validation run trained on."""
    data = load_digits()
    return to_model_input(data.train_images[TRAINED_ON:]), data.train_labels[TRAINED_ON:]


def load_runs(names):
    """{name: model} of the runs in runs/select/ that have finished, in the order of `names`."""
    paths = {name: f"runs/select/{name}/model.keras" for name in names}
    if not any(os.path.exists(path) for path in paths.values()):
        raise SystemExit(f"none of {', '.join(paths.values())} exists: train the runs with the commands in "
                         "the script's docstring, from the repository root")
    return {name: keras.models.load_model(path) for name, path in paths.items() if os.path.exists(path)}


def print_combinations(models, images, labels, errors: dict):
    """Prints the validation errors of every run and every average of runs, and adds them to `errors`
    ({"a + b": count}); returns each run's probabilities."""
    probabilities = {name: model.predict(images, batch_size=500, verbose=0) for name, model in models.items()}
    for size in range(1, len(models) + 1):
        for chosen in itertools.combinations(models, size):
            averaged = sum(probabilities[name] for name in chosen) / size
            errors[" + ".join(chosen)] = int((averaged.argmax(1) != labels).sum())
            print(f"{' + '.join(chosen)}: {errors[' + '.join(chosen)]} validation errors of {len(labels)}", flush=True)
    return probabilities


def history_errors(name: str) -> int:
    """A committed run's validation errors after its last epoch, from its history.csv."""
    last = (HERE / name / "history.csv").read_text().strip().splitlines()[-1].split(",")
    header = (HERE / name / "history.csv").read_text().splitlines()[0].split(",")
    return round((1 - float(last[header.index("val_accuracy")])) * HELD_OUT)


def record(script: str, errors: dict, **facts) -> Path:
    """Writes <script>.json beside the script: the validation errors it printed, the machine, the date."""
    from digitnet.core.files import write_json
    from digitnet.core.machine import machine_facts

    path = HERE / f"{Path(script).stem}.json"
    write_json(path, {"script": Path(script).name, "validation_digits": HELD_OUT, "errors": errors, **facts,
                      "machine": machine_facts(), "date": datetime.date.today().isoformat()})
    print(f"written: {path.relative_to(HERE.parent.parent)}")
    return path


def compare_style_shares(script: str, affine: list, styles: dict, share: dict, tie: int = 6) -> str:
    """The style-member rules of reports/styles_selection.md: committees A and B as weighted averages of
    validation runs, (1 - share[k]) of the mean of the `affine` runs plus share[k] of the mean of the
    `styles[k]` runs; validation errors, a tie within `tie` broken on the held-out digits restyled by
    --augment styles with seed 0 (fewer wins), a remaining tie to A. Prints and records the counts;
    returns the choice."""
    import numpy as np

    from digitnet.models import layers

    x, y = validation_digits()
    restyled = np.asarray(layers.RandomAffine("styles", seed=0)(x, y, training=True))
    names = affine + styles["B"]
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
        affine_mean = sum(probabilities[name] for name in affine) / len(affine)
        for key, members in styles.items():
            styles_mean = sum(probabilities[name] for name in members) / len(members)
            mixed = (1 - share[key]) * affine_mean + share[key] * styles_mean
            found[f"{key}: affine mean x {1 - share[key]:.3f} + mean of {' + '.join(members)} x "
                  f"{share[key]:.3f}"] = int((mixed.argmax(1) != y).sum())
    for key in errors:
        print(f"{key}: {errors[key]} validation errors of {HELD_OUT}, {restyled_errors.get(key, '-')} restyled",
              flush=True)
    key_a, key_b = (next(k for k in restyled_errors if k.startswith(f"{side}: ")) for side in "AB")
    a, b, ra, rb = errors[key_a], errors[key_b], restyled_errors[key_a], restyled_errors[key_b]
    chosen = "B" if b < a - tie or (abs(a - b) <= tie and rb < ra) else "A"
    print(f"chosen by the rule: {chosen}")
    record(script, errors, restyled_errors=restyled_errors, chosen=chosen)
    return chosen
