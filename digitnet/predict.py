"""Predict digits in your own image files with any exported or trained model.

    python -m digitnet.predict --model saved_models/lenet/1 my_digit.png photo.jpg
    python -m digitnet.predict --model saved_models/tflite/lenet/1/lenet_int8.tflite *.png
    python -m digitnet.predict --model runs/lenet/model.keras digit.png --save-preprocessed out/
    python -m digitnet.predict digit.png      # the newest reference model in saved_models/

Without --model, the newest reference committee answers: as int8 TFLite
(saved_models/tflite/committee/<version>/committee_int8.tflite, read by
LiteRT without TensorFlow, so the command answers in a fraction of a second),
else as SavedModel, else the reference LeNet the same way; the first line on
stderr says which.

Each image is prepared the way MNIST was made (digitnet/serving/preprocess.py). A bad
file gets its own error line; the others still get their answers. The exit
code is 2 when any file failed.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

from digitnet.core import cli
from digitnet.core.errors import DataError

# The reference models tried without --model, best first: (folder under saved_models/,
# the file in each <version>/ folder, or "" for a SavedModel, how the command names it).
# The int8 TFLite committee gives the SavedModel's answer on every MNIST test digit
# (benchmarks/predict_latency.py --agreement) and needs no TensorFlow.
REFERENCE_MODELS = (
    ("tflite/committee", "committee_int8.tflite", "the reference committee, int8 TFLite"),
    ("committee", "", "the reference committee"),
    ("tflite/lenet", "lenet_int8.tflite", "the reference LeNet, int8 TFLite"),
    ("lenet", "", "the reference LeNet"),
)


def _newest(base: Path, file: str) -> Path | None:
    """base/<highest version>/file (the version folder itself for a SavedModel), among the versions that have it."""
    if not base.is_dir():
        return None
    found = [(int(p.name), p / file if file else p) for p in base.iterdir() if p.name.isdigit() and p.is_dir()]
    found = [(version, path) for version, path in found if (path.is_file() if file else (path / "saved_model.pb").exists())]
    return max(found)[1] if found else None


def default_model(root: str = "saved_models") -> tuple[str, str]:
    """(path, description) of the newest version of the best reference model under `root`."""
    for folder, file, description in REFERENCE_MODELS:
        path = _newest(Path(root) / folder, file)
        if path is not None:
            return str(path), description
    raise DataError(f"no --model given and no reference model under {root}/ "
                    f"({' or '.join(f'{folder}/<version>/{file}' for folder, file, _ in REFERENCE_MODELS)}): give "
                    "--model, or export one with `python -m digitnet.train --arch lenet --export saved_model,tflite`")


def predict_files(model_path: str, paths: list[str]) -> list[dict]:
    """One result per file: {"file", "digit", "probability", "probabilities", "image"} or {"file", "error"}."""
    from digitnet.serving.runtimes import load_predictor

    return list(predict_each(load_predictor(model_path), paths, model_path))


def predict_each(predictor, paths: list[str], model_name: str) -> Iterator[dict]:
    """predict_files with a predictor already loaded (any of runtimes.py), yielding each
    file's result as soon as it is answered, so a caller can read the predictor's
    state for that file (TFLitePredictor.latencies[-1]). `model_name` names the
    model in the error raised when it is not a classifier."""
    from digitnet.serving.preprocess import prepare_file

    for path in paths:
        try:
            image = prepare_file(path)
        except DataError as error:
            yield {"file": path, "error": str(error)}
            continue
        probabilities = predictor(image[None])[0]
        if probabilities.shape != (10,):
            raise DataError(f"{model_name}: is not a classifier (its output has shape {list(probabilities.shape)})")
        digit = int(np.argmax(probabilities))
        yield {"file": path, "digit": digit, "probability": float(probabilities[digit]),
               "probabilities": [round(float(p), 6) for p in probabilities], "image": image}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="SavedModel folder, .keras file or .tflite file; default: the newest "
                        "reference committee in saved_models/, else the reference LeNet")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...): any size, colour or grey")
    parser.add_argument("--save-preprocessed", metavar="DIR", help="also write each 28x28 model input as PNG here")
    cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.model is None:
        args.model, description = default_model()
        print(f"model: {args.model} ({description}; --model chooses another)", file=sys.stderr)
    results = predict_files(args.model, args.images)
    for result in results:
        if "error" in result:
            print(f"error: {result['error']}", file=sys.stderr)
            continue
        print(f"{result['file']}: {result['digit']} (probability {result['probability']:.3f})")
        if args.save_preprocessed:
            from PIL import Image

            os.makedirs(args.save_preprocessed, exist_ok=True)
            stem = os.path.splitext(os.path.basename(result["file"]))[0]
            Image.fromarray(result["image"]).save(os.path.join(args.save_preprocessed, f"{stem}_28x28.png"))
    return cli.EXIT_USAGE if any("error" in r for r in results) else 0


if __name__ == "__main__":
    cli.run_as_process(main)
