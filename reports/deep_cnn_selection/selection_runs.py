"""What the validation scripts here share: the 6,000 held-out digits and the validation runs' models.

A run with --validation-split 0.1 trains on the first 54,000 training images and
holds out the last 6,000 (data.split_validation); its folder is runs/select/<name>/. Its
config.json, history.csv and metrics.json are committed here (reports/deep_cnn_selection/<name>/),
not its model. The style-member scripts (compare_style_shares) need only each run's probabilities on
the held-out digits and on the same digits restyled: once a run has finished,

    python reports/deep_cnn_selection/selection_runs.py keep <name> [<name> ...]

writes them to <name>/validation_probabilities.npz beside its history (with its config, history and
metrics), so that a run trained in one session is scored in a later one without its model. The other
scripts load the models from runs/select/ (the commands are in their docstrings). Each script writes
the validation errors it prints to <script>.json beside it.
"""
import datetime
import functools
import itertools
import os
import shutil
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


PROBABILITIES = "validation_probabilities.npz"  # a kept run's: one [6000, 10] array per set in SETS
SETS = ("validation", "restyled")
KEPT_FILES = ("config.json", "history.csv", "metrics.json")


@functools.cache
def held_out_sets() -> dict:
    """{"validation": the held-out digits, "restyled": the same restyled by --augment styles with seed 0
    (the style rules' tie-break)}."""
    import numpy as np

    from digitnet.models import layers

    images, labels = validation_digits()
    return {SETS[0]: images,
            SETS[1]: np.asarray(layers.RandomAffine("styles", seed=0)(images, labels, training=True))}


def model_probabilities(name: str) -> dict:
    """A finished run's probabilities on held_out_sets(), from its model in runs/select/<name>/."""
    model = load_runs([name])[name]
    return {key: model.predict(images, batch_size=500, verbose=0) for key, images in held_out_sets().items()}


def run_probabilities(names) -> dict:
    """{name: {"validation": [6000, 10], "restyled": [6000, 10]}}, from each run's model in
    runs/select/<name>/ where it is there, else from the probabilities kept here; exits naming the first
    run that has neither."""
    import numpy as np

    found = {}
    for name in names:
        kept = HERE / name / PROBABILITIES
        if Path(f"runs/select/{name}/model.keras").exists():
            found[name] = model_probabilities(name)
        elif kept.exists():
            with np.load(kept) as stored:
                found[name] = {key: stored[key] for key in SETS}
        else:
            raise SystemExit(f"run {name} has neither runs/select/{name}/model.keras nor "
                             f"reports/deep_cnn_selection/{name}/{PROBABILITIES}: train it with the command in "
                             "the script's docstring, from the repository root")
    return found


def keep(names) -> None:
    """Writes each finished run's probabilities (model_probabilities) and its config, history and
    metrics here, under <name>/."""
    import numpy as np

    for name in names:
        if not Path(f"runs/select/{name}/metrics.json").exists():
            raise SystemExit(f"runs/select/{name} has not finished (no metrics.json): keep it once it has")
        probabilities = {key: value.astype(np.float32) for key, value in model_probabilities(name).items()}
        (HERE / name).mkdir(exist_ok=True)
        target = HERE / name / PROBABILITIES
        partial = HERE / name / f".{PROBABILITIES}.partial.npz"
        np.savez_compressed(partial, **probabilities)
        partial.replace(target)
        for file in KEPT_FILES:
            if Path(f"runs/select/{name}/{file}").exists():
                shutil.copyfile(f"runs/select/{name}/{file}", HERE / name / file)
        print(f"kept: reports/deep_cnn_selection/{name}/ ({PROBABILITIES}, {', '.join(KEPT_FILES)})")


def compare_style_shares(script: str, affine: list, styles: dict, share: dict, tie: int = 6) -> str:
    """The style-member rules of reports/styles_selection.md: committees A and B as weighted averages of
    validation runs, (1 - share[k]) of the mean of the `affine` runs plus share[k] of the mean of the
    `styles[k]` runs; validation errors, a tie within `tie` broken on the held-out digits restyled by
    --augment styles with seed 0 (fewer wins), a remaining tie to A. Prints and records the counts;
    returns the choice."""
    names = list(dict.fromkeys(affine + [name for members in styles.values() for name in members]))
    probabilities = run_probabilities(names)
    _, y = validation_digits()
    errors, restyled_errors = {}, {}
    for key, found in (("validation", errors), ("restyled", restyled_errors)):
        if key == "validation":  # each run alone
            for name in names:
                found[name] = int((probabilities[name][key].argmax(1) != y).sum())
        affine_mean = sum(probabilities[name][key] for name in affine) / len(affine)
        for side, members in styles.items():
            styles_mean = sum(probabilities[name][key] for name in members) / len(members)
            mixed = (1 - share[side]) * affine_mean + share[side] * styles_mean
            found[f"{side}: affine mean x {1 - share[side]:.3f} + mean of {' + '.join(members)} x "
                  f"{share[side]:.3f}"] = int((mixed.argmax(1) != y).sum())
    for key in errors:
        print(f"{key}: {errors[key]} validation errors of {HELD_OUT}, {restyled_errors.get(key, '-')} restyled",
              flush=True)
    key_a, key_b = (next(k for k in restyled_errors if k.startswith(f"{side}: ")) for side in "AB")
    a, b, ra, rb = errors[key_a], errors[key_b], restyled_errors[key_a], restyled_errors[key_b]
    chosen = "B" if b < a - tie or (abs(a - b) <= tie and rb < ra) else "A"
    print(f"chosen by the rule: {chosen}")
    record(script, errors, restyled_errors=restyled_errors, chosen=chosen)
    return chosen


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 3 or sys.argv[1] != "keep":
        raise SystemExit("usage: python reports/deep_cnn_selection/selection_runs.py keep <run name> [...]")
    keep(sys.argv[2:])
