"""digitnet's registered models trained through Keras 3 on its other backends, on the device they find.

    KERAS_BACKEND=jax python benchmarks/keras_backends.py --models fast,lenet,deep_cnn --seeds 5
    KERAS_BACKEND=jax python benchmarks/keras_backends.py --models deep_cnn --epochs 2 --seeds 1

This is how digitnet's models meet the GPU machine lent here: its image holds
JAX and PyTorch with CUDA 13 and no TensorFlow, and nothing can be installed
there but wheels of at most 64 MiB per call (TensorFlow installs at 1.9 GiB,
and its GPU build wants CUDA 12's libraries besides), so `python -m
digitnet.train` (tf.data, tf.distribute) cannot run there. What is the same
as digitnet.train: the builders and settings of REGISTRY (TrainConfig's
resolved defaults), the optimiser and schedule (digitnet/training/optimizer.py), the
loss and metrics of the model's task, `model.fit`, the embedded MNIST. What
differs: the images come as in-memory arrays, shuffled by Keras (no tf.data
pipeline with its (seed, epoch) order), no augmentation (digitnet.portable
trains with it), no run folder; models with a pretraining or frozen stage
are refused. Each seed builds a fresh model; epoch seconds are wall time
from epoch start to end (the first includes compilation), training seconds
their sum (as history.csv's), test accuracy Keras' evaluate on the 10,000
test digits. The first seed in the process also pays the backend's start-up
compilations, so the table shows it apart from the later seeds. Under
KERAS_BACKEND=tensorflow it runs here too, on the CPU.
"""
from __future__ import annotations

import argparse

import numpy as np
from common import print_table, summary, write_results

from digitnet.core.errors import ConfigError
from digitnet.core.images import to_model_input
from digitnet.data.sources import load_digits
from digitnet.models.registry import REGISTRY, get_spec
from digitnet.portable import epoch_clock
from digitnet.training.config import TrainConfig


def arrays(train_examples: int | None, test_examples: int | None):
    data = load_digits()
    return (to_model_input(data.train_images[:train_examples]), data.train_labels[:train_examples].astype(np.int32),
            to_model_input(data.test_images[:test_examples]), data.test_labels[:test_examples].astype(np.int32))


def train_one(arch: str, seed: int, data, epochs: int | None, steps_per_execution: int) -> dict:
    """One fresh model of `arch` at its registered settings, trained and tested."""
    import keras

    from digitnet.training.optimizer import adam

    spec = get_spec(arch)
    config = TrainConfig(arch=arch, epochs=epochs, seed=seed).resolved()
    train_images, train_labels, test_images, test_labels = data
    steps_per_epoch = -(-len(train_images) // config.batch_size)
    keras.utils.set_random_seed(seed)
    model = spec.build()
    model.compile(optimizer=adam(spec, config.learning_rate, config.epochs, config, steps_per_epoch),
                  loss=spec.task.loss, metrics=list(spec.task.metrics), steps_per_execution=steps_per_execution)
    clock = epoch_clock()
    model.fit(train_images, train_labels, batch_size=config.batch_size, epochs=config.epochs, shuffle=True,
              callbacks=[clock], verbose=0)
    metrics = model.evaluate(test_images, test_labels, batch_size=1000, return_dict=True, verbose=0)
    return {"arch": arch, "seed": seed, "epochs": config.epochs, "batch_size": config.batch_size,
            "steps_per_execution": steps_per_execution,
            "epoch_seconds": clock.seconds, "training_seconds": float(sum(clock.seconds)),
            "test_accuracy": float(metrics["accuracy"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="fast,lenet", help="comma-separated registered classifiers")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, help="default: each model's registered epochs")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--train-examples", type=int, help="train on the first N training images only")
    parser.add_argument("--test-examples", type=int, help="test on the first N test images only")
    parser.add_argument("--output", help="results name under benchmarks/results (default keras_backends_<backend>)")
    args = parser.parse_args()
    models = args.models.split(",")
    for arch in models:
        try:
            spec = get_spec(arch)
        except ConfigError as error:
            parser.error(str(error))
        if not spec.one_stage_classifier:
            parser.error(f"--models takes classifiers trained in one stage "
                         f"({', '.join(n for n, s in REGISTRY.items() if s.one_stage_classifier)}), received {arch!r}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, received {args.seeds}")
    import keras

    backend = keras.backend.backend()
    data = arrays(args.train_examples, args.test_examples)
    rows = []
    for arch in models:
        for seed in range(args.seeds):
            row = train_one(arch, seed, data, args.epochs, args.steps_per_execution)
            rows.append(row)
            print(f"{arch} seed {seed}: {row['training_seconds']:.2f} s training "
                  f"(epochs {', '.join(f'{s:.2f}' for s in row['epoch_seconds'])}), "
                  f"{100 * row['test_accuracy']:.2f} %", flush=True)
    table = []
    for arch in models:
        mine = [r for r in rows if r["arch"] == arch]
        later_seeds = [r["training_seconds"] for r in mine[1:]]
        later_epochs = [s for r in mine for s in r["epoch_seconds"][1:]]
        table.append([arch, mine[0]["epochs"], f"{mine[0]['training_seconds']:.2f}",
                      summary(later_seeds) if later_seeds else "", summary(later_epochs) if later_epochs else "",
                      summary([100 * r["test_accuracy"] for r in mine]),
                      f"{100 * min(r['test_accuracy'] for r in mine):.2f}"])
    print_table(f"Keras {keras.__version__} on {backend}, {args.seeds} seeds, steps per execution "
                f"{args.steps_per_execution} (mean ± std)",
                ["model", "epochs", "training s, first seed", "later seeds", "epochs after the first s",
                 "test accuracy %", "min %"],
                table)
    write_results(args.output or f"keras_backends_{backend}", {"backend": backend, "runs": rows})


if __name__ == "__main__":
    main()
