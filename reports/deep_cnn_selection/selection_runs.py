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
