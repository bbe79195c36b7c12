"""What the validation scripts here share: the 6,000 held-out digits and the validation runs' models.

A run with --validation-split 0.1 trains on the first 54,000 training images and
holds out the last 6,000 (data.split_validation); its folder is runs/select/<name>/.
"""
import itertools
import os

import keras

import digitnet.models.layers  # noqa: F401 (registers the layers that width-normalised runs hold)
from digitnet.data.sources import load_digits

TRAINED_ON = 54000


def validation_digits():
    """(images float32 [6000, 28, 28, 1] in [0, 1], labels): the digits no validation run trained on."""
    data = load_digits()
    return data.train_images[TRAINED_ON:][..., None].astype("float32") / 255.0, data.train_labels[TRAINED_ON:]


def load_runs(names):
    """{name: model} of the runs in runs/select/ that have finished, in the order of `names`."""
    paths = {name: f"runs/select/{name}/model.keras" for name in names}
    return {name: keras.models.load_model(path) for name, path in paths.items() if os.path.exists(path)}


def print_combinations(models, images, labels):
    """Prints the validation errors of every run and every average of runs; returns each run's probabilities."""
    probabilities = {name: model.predict(images, batch_size=500, verbose=0) for name, model in models.items()}
    for size in range(1, len(models) + 1):
        for chosen in itertools.combinations(models, size):
            averaged = sum(probabilities[name] for name in chosen) / size
            print(f"{' + '.join(chosen)}: {int((averaged.argmax(1) != labels).sum())} validation errors of "
                  f"{len(labels)}", flush=True)
    return probabilities
