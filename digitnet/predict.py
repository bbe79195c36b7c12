"""Predict digits in your own image files with any exported or trained model.

    python -m digitnet.predict --model saved_models/lenet/1 my_digit.png photo.jpg
    python -m digitnet.predict --model saved_models/tflite/lenet/1/lenet_int8.tflite *.png
    python -m digitnet.predict --model runs/lenet/model.keras digit.png --save-preprocessed out/
    python -m digitnet.predict digit.png number.jpg --json   # the newest reference model in saved_models/

Without --model, the newest reference committee answers: as int8 TFLite
(saved_models/tflite/committee/<version>/committee_int8.tflite, read by
LiteRT without TensorFlow, so the command answers in a fraction of a second),
else as SavedModel, else the reference LeNet the same way; the first line on
stderr says which.

An image may hold one digit or a number written in a row: each digit is
found (digitnet/serving/segment.py) and prepared the way MNIST was made
(digitnet/serving/preprocess.py), then read; a number prints with each
digit's probability, left to right:

    photo.jpg: 7 (probability 0.996)
    meter.jpg: 2026 (0.99 0.97 0.99 0.98)

--json prints one JSON object per image instead (boxes in the image's
pixels: left, top, right, bottom). A bad file gets its own error line; the
others still get their answers. The exit code is 2 when any file failed.

--not-a-digit also asks the not-a-digit judge (digitnet/serving/judge.py:
a small detector and the model's calibrated confidence) about every piece,
and the line shows calibrated probabilities; a piece that is not a digit is
a `?` in the number, and an image with no digit in it says so:

    letter.png: not a digit: the ink looks like no digit (not-a-digit score 1.00)
    meter.jpg: 2?26 (0.99 ? 0.99 0.98)

With --json the fields above stay as they are and each digit gains
"not_a_digit", "not_a_digit_probability", "calibrated_confidence" and
"reason", the image "judged_number" and "not_a_digit". It is asked for, not
the default, because it also refuses real digits in styles the detector
never learnt (reports/not_a_digit.md: 42 % of the held-back UCI scans).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Iterator

from digitnet.core import cli
from digitnet.core.errors import DataError

def predict_files(model_path: str, paths: list[str]) -> list[dict]:
    """One result per file (see predict_each)."""
    from digitnet.serving.runtimes import load_predictor

    return list(predict_each(load_predictor(model_path), paths, model_path))


def predict_each(predictor, paths: list[str], model_name: str) -> Iterator[dict]:
    """predict_files with a predictor already loaded (any of runtimes.py), yielding each
    file's result as soon as it is answered, so a caller can read the predictor's
    state for that file (TFLitePredictor.latencies[-1]). A result is {"file", "reading"
    (digitnet.serving.reading.Reading), "number"}, with {"digit", "probability",
    "probabilities", "image"} too when the file holds one digit, or {"file", "error"}.
    `model_name` names the model in the error raised when it is not a classifier."""
    from digitnet.serving.reading import read

    for path in paths:
        try:
            reading = read(path, predictor)
        except DataError as error:
            if "is not a classifier" in str(error):
                raise DataError(f"{model_name}: {error}") from None
            yield {"file": path, "error": str(error)}
            continue
        result = {"file": path, "reading": reading, "number": reading.number}
        if len(reading.digits) == 1:
            (digit,) = reading.digits
            result.update(digit=digit.digit, probability=digit.confidence,
                          probabilities=[round(p, 6) for p in digit.probabilities], image=digit.image)
        yield result


def answer_line(result: dict) -> str:
    """`photo.jpg: 7 (probability 0.996)` for one digit, `photo.jpg: 2026 (0.99 0.97 0.99 0.98)` for a number."""
    digits = result["reading"].digits
    if len(digits) == 1:
        return f"{result['file']}: {digits[0].digit} (probability {digits[0].confidence:.3f})"
    return f"{result['file']}: {result['number']} ({' '.join(f'{d.confidence:.2f}' for d in digits)})"


def save_inputs(result: dict, folder: str) -> None:
    """Each digit's 28x28 input as <stem>_28x28.png (one digit) or <stem>_<k>_28x28.png."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(result["file"]))[0]
    digits = result["reading"].digits
    for index, digit in enumerate(digits):
        suffix = "" if len(digits) == 1 else f"_{index}"
        Image.fromarray(digit.image).save(os.path.join(folder, f"{stem}{suffix}_28x28.png"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="SavedModel folder, .keras file or .tflite file; default: the newest "
                        "reference committee in saved_models/, else the reference LeNet")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...): any size, colour or grey")
    parser.add_argument("--json", action="store_true", help="one JSON object per image on stdout: "
                        '{"file", "number", "digits": [{"digit", "confidence", "box", "probabilities"}]} '
                        'or {"file", "error"}')
    parser.add_argument("--save-preprocessed", metavar="DIR", help="also write each 28x28 model input as PNG here")
    parser.add_argument("--not-a-digit", action="store_true",
                        help="say 'not a digit' for ink that is no digit (letters, symbols, scribbles) and print "
                        "calibrated probabilities; off by default: it also refuses many low-resolution real digits "
                        "(42 %% of UCI's scans)")
    cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.model is None:
        from digitnet.serving.runtimes import default_model

        args.model, description = default_model()
        print(f"model: {args.model} ({description}; --model chooses another)", file=sys.stderr)
    from digitnet.serving.runtimes import load_predictor

    predictor = load_predictor(args.model)  # before the judge, whose errors assume a model file
    judge = None
    if args.not_a_digit:
        from digitnet.serving import judged_reading

        judge = judged_reading.judge_for(args.model)
    failed = False
    for result in predict_each(predictor, args.images, args.model):
        failed |= "error" in result
        if "error" in result:
            print(json.dumps(result) if args.json else f"error: {result['error']}",
                  file=sys.stdout if args.json else sys.stderr, flush=True)
            continue
        answer = result["reading"] if judge is None else judged_reading.judged(result["reading"], judge)
        if args.json:
            print(json.dumps({"file": result["file"], **answer.to_json()}), flush=True)
        else:
            print(answer_line(result) if judge is None else answer.line(result["file"]), flush=True)
        if args.save_preprocessed:
            save_inputs(result, args.save_preprocessed)
    return cli.EXIT_USAGE if failed else 0


if __name__ == "__main__":
    cli.run_as_process(main)
