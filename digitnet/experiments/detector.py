"""Training the not-a-digit detector that serving/judge.py runs in NumPy.

The detector is kept out of the model REGISTRY: registered models are MNIST
classifiers and autoencoders that `train`, `committee` and the exporters
handle alike, while this one is a binary judge trained on other data (digits
against digitnet.data.negatives), read only by the judge, and never served
on its own. Its Keras layers carry the names of judge.DETECTOR_LAYERS, so the
trained weights go to detector.npz name for name.

    python -m digitnet.experiments.detector --output runs/not_a_digit
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from digitnet.core.images import to_model_input
from digitnet.experiments.reading_sets import NOT_A_DIGIT, cached_sets
from digitnet.serving.judge import DETECTOR_FILE, DETECTOR_LAYERS, NOT_A_DIGIT_CLASS

EPOCHS, BATCH, LEARNING_RATE = 10, 128, 2e-3


def build_detector():
    """The Keras twin of judge.Detector: uint8-scaled [28, 28] input -> 11 logits (0-9, not a digit)."""
    import keras

    inputs = keras.Input((28, 28, 1))
    x = inputs
    for name, kind, size in DETECTOR_LAYERS:
        if kind == "conv":
            x = keras.layers.Conv2D(size, 3, activation="relu", name=name)(x)
        elif kind == "pool":
            x = keras.layers.MaxPooling2D(size, name=name)(x)
        else:
            if len(x.shape) > 2:
                x = keras.layers.Flatten()(x)
            last = name == DETECTOR_LAYERS[-1][0]
            x = keras.layers.Dense(size, activation=None if last else "relu", name=name)(x)
    return keras.Model(inputs, x, name="not_a_digit_detector")


def detector_weights(model) -> dict[str, np.ndarray]:
    """{"<layer>/kernel", "<layer>/bias"} of the Keras detector, as judge.Detector reads them."""
    weights = {}
    for name, kind, _ in DETECTOR_LAYERS:
        if kind != "pool":
            kernel, bias = model.get_layer(name).get_weights()
            weights[f"{name}/kernel"], weights[f"{name}/bias"] = kernel, bias
    return weights


def training_arrays(sets) -> tuple[np.ndarray, np.ndarray]:
    """All the sets' inputs [N, 28, 28, 1] in [0, 1] and targets [N]: the digit, or NOT_A_DIGIT_CLASS."""
    images = np.concatenate([s.images for s in sets.values()])
    labels = np.concatenate([s.labels for s in sets.values()]).astype(np.int64)
    return to_model_input(images), np.where(labels == NOT_A_DIGIT, NOT_A_DIGIT_CLASS, labels)


def train_detector(cache_dir: str | None, seed: int = 0, epochs: int = EPOCHS, sizes: dict | None = None):
    """Trains the detector on reading_sets' "train" purpose, deterministically; returns the Keras model."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    images, targets = training_arrays(cached_sets("train", cache_dir, sizes))
    order = np.random.default_rng(seed).permutation(len(targets))
    model = build_detector()
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    steps = epochs * -(-len(targets) // BATCH)
    model.optimizer.learning_rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
    model.fit(images[order], targets[order], batch_size=BATCH, epochs=epochs, shuffle=True, verbose=2)
    return model


def save_detector(model, folder: str | Path) -> Path:
    """detector.npz in `folder`, written atomically: the weights as float16, which halves
    the file; the judge computes in float32, and its threshold is chosen with these very weights."""
    from digitnet.core.files import atomic_path

    path = Path(folder) / DETECTOR_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, **{k: v.astype(np.float16) for k, v in detector_weights(model).items()})
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digitnet.experiments.detector", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="runs/not_a_digit", help="folder for detector.npz")
    parser.add_argument("--cache", default="runs/reading_sets", help="folder that keeps the generated sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = train_detector(args.cache, args.seed, args.epochs)
    path = save_detector(model, args.output)
    print(f"{path}: {path.stat().st_size:,} bytes, trained in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
