"""Train one registered model on MNIST.

    python -m digitnet.train --arch lenet
    python -m digitnet.train --arch conv_autoencoder --epochs 5 --output-dir runs/cae
    python -m digitnet.train --arch bpnn --train-examples 2000 --seed 1 --deterministic
"""
from __future__ import annotations

import argparse

from digitnet.core import cli
from digitnet.training.flags import add_config_flags, config_from_args


def build_parser() -> argparse.ArgumentParser:
    """A flag for every TrainConfig field (digitnet/training/flags.py), and --debug."""
    parser = argparse.ArgumentParser(
        prog="python -m digitnet.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_config_flags(parser)
    cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    config = config_from_args(build_parser().parse_args(argv)).resolved()
    from digitnet.training.loop import train  # TensorFlow loads only once the flags are known to be good

    result = train(config)
    if config.export_formats:
        from digitnet.data.sources import load_digits
        from digitnet.serving.exporters import export_model

        export_model(result.model_path, config.export_formats, config.export_dir,
                     load_digits(config.data_source, config.data_dir, config.tfds_data_dir))
    # Last line: the figure a user ran this for.
    print(f"{config.arch}: {result.headline}  [run folder: {result.output_dir}]")
    return 0


if __name__ == "__main__":
    cli.run_as_process(main, interrupted_hint=(
        "The last completed epoch is kept in the run folder's backup/; "
        "run the same command again to resume from it."))
