"""Export a trained model for TF Serving (SavedModel) and phones (TFLite).

    python -m digitnet.export --model runs/lenet/model.keras --formats saved_model,tflite
    python -m digitnet.export --model runs/lenet/model.keras --name digits --output-dir /srv/models

Writes saved_models/<name>/<version>/ (TF Serving layout, next free version)
and saved_models/tflite/<name>/<version>/<name>_{float32,dynamic_range,int8}.tflite,
each with a model card, after checking every file on the whole test set.
"""
from __future__ import annotations

import argparse

from digitnet.core import cli, quiet


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="trained model, e.g. runs/lenet/model.keras")
    parser.add_argument("--name", help="served model name (default: the architecture's)")
    parser.add_argument("--formats", default="saved_model,tflite", help="comma-separated: saved_model,tflite")
    parser.add_argument("--output-dir", default="saved_models")
    parser.add_argument("--data-dir", help="MNIST-format folder for the checks (default: the embedded MNIST)")
    cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from digitnet.data.sources import load_digits
    from digitnet.serving.exporters import export_model
    from digitnet.training.config import check_writable_folder

    check_writable_folder(args.output_dir, "--output-dir")
    with quiet.native_stderr():  # TensorFlow's device notices, the TFLite converter's and LiteRT's lines
        export_model(args.model, [f for f in args.formats.split(",") if f], args.output_dir,
                     load_digits(data_dir=args.data_dir), name=args.name)
    return 0


if __name__ == "__main__":
    cli.run_as_process(main)
