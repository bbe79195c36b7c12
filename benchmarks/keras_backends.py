"""digitnet's registered models trained through Keras 3 on its other backends, on the device they find.

    KERAS_BACKEND=jax python benchmarks/keras_backends.py --models fast,lenet,deep_cnn --seeds 5
    KERAS_BACKEND=jax python benchmarks/keras_backends.py --models deep_cnn --epochs 2 --seeds 1

This is how digitnet's models meet a machine with Keras on JAX and no
TensorFlow (the GPU machine lent here: JAX and PyTorch with CUDA 13, no
network, wheels of at most 64 MiB per call, so no TensorFlow). Each run is
`digitnet.training.loop.train` with --feed arrays, the loop users run: the
builders and settings of REGISTRY (TrainConfig's resolved defaults), the
optimiser and schedule, the loss and metrics of the model's task, the
embedded MNIST in memory, shuffled by (seed, epoch), with the loop's records
and backups written to a temporary run folder. --augment is none unless given
(the registered preset of deep_cnn draws its distortions on the device, which
is another measure). Models with a pretraining or frozen stage are refused.
Each seed builds a fresh model; epoch seconds are history.csv's (epoch start
to end, the first including compilation), training seconds their sum, test
accuracy the loop's evaluation on the test digits. The first seed in the
process also pays the backend's start-up compilations, so the table shows it
apart from the later seeds. Under KERAS_BACKEND=tensorflow it runs here too,
on the CPU.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from common import print_table, summary, write_results

from digitnet.core.errors import ConfigError
from digitnet.models.registry import REGISTRY, get_spec
from digitnet.training.config import TrainConfig
from digitnet.training.flags import add_config_flags, config_from_args
from digitnet.training.run_folder import RunFolder

CONFIG_FLAGS = ("epochs", "steps_per_execution", "augment", "train_examples", "test_examples")


def run_configs(args: argparse.Namespace, models: list[str], folder: Path) -> list[TrainConfig]:
    """One resolved config per (model, seed), each run in its own folder under `folder`."""
    base = config_from_args(args, CONFIG_FLAGS, feed="arrays", verbose=0)
    return [dataclasses.replace(base, arch=arch, seed=seed, output_dir=str(folder / f"{arch}-seed{seed}")).resolved()
            for arch in models for seed in range(args.seeds)]


def train_one(config: TrainConfig, data) -> dict:
    """One fresh model trained and tested by the library's loop; its timings from history.csv."""
    from digitnet.training.loop import train

    result = train(config, data=data)
    seconds = [float(row["seconds"]) for row in RunFolder(result.output_dir).history_rows()]
    return {"arch": config.arch, "seed": config.seed, "epochs": config.epochs, "batch_size": config.batch_size,
            "steps_per_execution": config.steps_per_execution, "augment": config.augment,
            "epoch_seconds": seconds, "training_seconds": float(sum(seconds)),
            "test_accuracy": float(result.metrics["test"]["accuracy"])}


def parse_args() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="fast,lenet", help="comma-separated registered classifiers")
    parser.add_argument("--seeds", type=int, default=5)
    add_config_flags(parser, CONFIG_FLAGS, overrides={
        "epochs": {"help": "default: each model's registered epochs"},
        "steps_per_execution": {"default": 1, "help": "batches per compiled call (default 1)"},
        "augment": {"default": "none", "help": "augmentation preset (default none)"}})
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
    try:  # every setting checked before anything trains
        run_configs(args, models, Path(tempfile.gettempdir()))
    except ConfigError as error:
        parser.error(str(error))
    return args, models


def main() -> None:
    args, models = parse_args()
    import keras

    from digitnet.data.sources import load_digits

    backend = keras.backend.backend()
    data = load_digits()
    rows = []
    with tempfile.TemporaryDirectory(prefix="keras_backends-") as folder:
        for config in run_configs(args, models, Path(folder)):
            row = train_one(config, data)
            rows.append(row)
            print(f"{config.arch} seed {config.seed}: {row['training_seconds']:.2f} s training "
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
                f"{args.steps_per_execution}, augment {args.augment} (mean ± std)",
                ["model", "epochs", "training s, first seed", "later seeds", "epochs after the first s",
                 "test accuracy %", "min %"],
                table)
    write_results(args.output or f"keras_backends_{backend}", {"backend": backend, "runs": rows})


if __name__ == "__main__":
    main()
