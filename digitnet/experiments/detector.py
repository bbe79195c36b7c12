"""Training the not-a-digit detector that serving/judge.py runs in NumPy.

The detector is a ModelSpec of its own (DETECTOR_SPEC), kept out of the model
REGISTRY: registered models are MNIST classifiers and autoencoders that
`train`, `committee` and the exporters handle alike, while this one is a judge
of eleven classes (the ten digits and "not a digit") trained on other data
(digits against digitnet.data.negatives), read only by the judge, and never
served on its own. It trains through digitnet's one loop
(digitnet.training.loop.train with spec=DETECTOR_SPEC), so its run folder is
like any run's (config.json, history.csv, figures, model.keras) and an
interrupted run resumes. Its Keras layers carry the names of
judge.DETECTOR_LAYERS, so the trained weights go to detector.npz name for name.

    python -m digitnet.experiments.detector --output-dir runs/not_a_digit
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from digitnet.data.sources import DigitArrays
from digitnet.experiments.reading_sets import NOT_A_DIGIT, SIZES, cached_sets
from digitnet.models.registry import ModelSpec
from digitnet.serving.judge import DETECTOR_FILE, DETECTOR_LAYERS, NOT_A_DIGIT_CLASS

NAME = "not_a_digit"
EPOCHS, BATCH, LEARNING_RATE, SEED = 10, 128, 2e-3, 0
# The purposes of experiments/reading_sets.py it trains on, and is tested on at the end of the run.
TRAIN_PURPOSE, TEST_PURPOSE = "train", "fit"


def build_detector(classes: int = NOT_A_DIGIT_CLASS + 1, units: int | None = None, width: int = 28):
    """The Keras twin of judge.Detector: uint8-scaled [28, 28] input -> 11 logits (0-9, not a digit;
    `classes` others, and `units` in the dense layer before them, for other judges of its layers;
    `width`: inputs [28, width], for a pair reader of wide fields), then a softmax without weights,
    so that the loop's classification loss applies and the NumPy detector reads the logits layer's
    weights as they are."""
    import keras

    inputs = keras.Input((28, width, 1))
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
            width = classes if last else (units or size)
            x = keras.layers.Dense(width, activation=None if last else "relu", name=name)(x)
    outputs = keras.layers.Activation("softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="not_a_digit_detector")


DETECTOR_SPEC = ModelSpec(
    build_detector, "classification", EPOCHS, LEARNING_RATE, BATCH,
    "not-a-digit detector: the ten digits and 'not a digit' (judge.DETECTOR_LAYERS)",
)


def detector_weights(model) -> dict[str, np.ndarray]:
    """{"<layer>/kernel", "<layer>/bias"} of the Keras detector, as judge.Detector reads them."""
    weights = {}
    for name, kind, _ in DETECTOR_LAYERS:
        if kind != "pool":
            kernel, bias = model.get_layer(name).get_weights()
            weights[f"{name}/kernel"], weights[f"{name}/bias"] = kernel, bias
    return weights


def labelled_arrays(sets) -> tuple[np.ndarray, np.ndarray]:
    """All the sets' uint8 images [N, 28, 28] and uint8 labels [N]: the digit, or NOT_A_DIGIT_CLASS."""
    images = np.concatenate([s.images for s in sets.values()])
    labels = np.concatenate([s.labels for s in sets.values()]).astype(np.int64)
    return images, np.where(labels == NOT_A_DIGIT, NOT_A_DIGIT_CLASS, labels).astype(np.uint8)


def detector_data(cache_dir: str | None, sizes: dict[str, int] | None = None) -> DigitArrays:
    """Train split: reading_sets' "train" purpose (digits and negatives); test split: its "fit"
    purpose, which the detector never learns from. `sizes` overrides the sets' sizes (tests)."""
    def purpose_sets(purpose):
        override = {name: count for name, count in (sizes or {}).items() if name in SIZES[purpose]}
        return labelled_arrays(cached_sets(purpose, cache_dir, override or None))

    (train_images, train_labels), (test_images, test_labels) = map(purpose_sets, (TRAIN_PURPOSE, TEST_PURPOSE))
    return DigitArrays(train_images, train_labels, test_images, test_labels,
                       source=f"reading_sets: '{TRAIN_PURPOSE}' digits and negatives; tested on '{TEST_PURPOSE}'")


def train_detector(output_dir: str | Path, cache_dir: str | None, seed: int = SEED, epochs: int = EPOCHS,
                   sizes: dict | None = None, verbose: int = 1, fresh: bool = False):
    """Trains the detector through the loop in `output_dir`, deterministically (reusing a finished
    run, resuming an interrupted one, unless `fresh`); returns (the loop's RunResult, the trained
    Keras model)."""
    import keras

    from digitnet.training.config import TrainConfig
    from digitnet.training.loop import train

    config = TrainConfig(arch=NAME, epochs=epochs, seed=seed, deterministic=True, output_dir=str(output_dir),
                         verbose=verbose, fresh=fresh)
    result = train(config, data=detector_data(cache_dir, sizes), spec=DETECTOR_SPEC)
    return result, keras.models.load_model(result.model_path)


def save_weights(model, path: str | Path) -> Path:
    """The detector-shaped model's weights in an .npz at `path`, written atomically, as float16,
    which halves the file; judge.Detector computes in float32, and thresholds are chosen with
    these very weights."""
    from digitnet.core.files import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, **{k: v.astype(np.float16) for k, v in detector_weights(model).items()})
    return path


def save_detector(model, folder: str | Path) -> Path:
    """detector.npz in `folder` (save_weights)."""
    return save_weights(model, Path(folder) / DETECTOR_FILE)


def run_parser(module: str, description: str, name: str, cache: str, cache_help: str, seed: int, epochs: int,
               output_help: str = "run folder") -> argparse.ArgumentParser:
    """The parser of `python -m digitnet.experiments.<module>` (its docstring `description`), a model
    trained in a run folder from generated data: --output-dir (runs/<name>), --cache, --seed, --epochs
    and --fresh."""
    parser = argparse.ArgumentParser(prog=f"python -m digitnet.experiments.{module}", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default=f"runs/{name}", help=output_help)
    parser.add_argument("--cache", default=cache, help=cache_help)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--fresh", action="store_true", help="start over: move an earlier run in --output-dir aside")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = run_parser("detector", __doc__, NAME, "runs/reading_sets", "folder that keeps the generated sets", SEED, EPOCHS,
                        "run folder; detector.npz is written there")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result, model = train_detector(args.output_dir, args.cache, args.seed, args.epochs, fresh=args.fresh)
    path = save_detector(model, result.output_dir)
    print(f"{result.headline} on the fit sets")
    print(f"{path}: {path.stat().st_size:,} bytes, in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
