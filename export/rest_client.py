"""Send photos of digits or numbers to TF Serving's REST API and print what they say.

    python export/rest_client.py --server http://localhost:8501 --model committee meter.jpg digit.png
    python export/rest_client.py --dry-run meter.jpg     # print the request body only

Each image's digits are found and prepared like MNIST (digitnet.serving.reading)
and sent as uint8 28x28 arrays, one row per digit, to the `serving_default`
signature: POST /v1/models/<name>:predict {"signature_name": "serving_default",
"instances": [...]}. Touching digits are cut where the served model is most
confident of both sides, so the client asks the server about the candidate cuts
too (--dry-run, which sends nothing, asks the newest local reference model).
A number prints as `meter.jpg: 2026 (0.99 0.97 0.99 0.98)`, one digit as
`digit.png: 7 (probability 0.996)`.

With --not-a-digit the not-a-digit judge (digitnet/serving/judge.py) looks at the
rows sent and the probabilities served, and the lines read as `predict
--not-a-digit` prints them: `letter.png: not a digit: <why>`, `meter.jpg: 2?26
(0.99 ? 0.99 0.98)`. The judge knows a model's temperature and confidence floor by
a fingerprint of its files, which the server does not send: --served-model names a
local copy of the served model to take them from; without it the judge's detector
decides alone (temperature 1, no floor).
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from digitnet.core.errors import DataError
from digitnet.serving.judged_reading import judge_for, judged
from digitnet.serving.reading import read


def build_request(paths: list[str], classify=None, signature: str = "serving_default") -> dict:
    """The JSON body for TF Serving's :predict (row format): one instance per digit of each image,
    left to right. `classify` scores the cuts between touching digits (default: the local reference model)."""
    rows = [digit.image.tolist() for path in paths for digit in read(path, classify).digits]
    return {"signature_name": signature, "instances": rows}


def predict_url(server: str, model: str, version: int | None = None) -> str:
    version_part = f"/versions/{version}" if version else ""
    return f"{server.rstrip('/')}/v1/models/{model}{version_part}:predict"


def served_classifier(url: str, signature: str = "serving_default"):
    """uint8 [N, 28, 28] -> the served model's probabilities [N, 10], one POST per call."""
    def classify(images: np.ndarray) -> np.ndarray:
        body = {"signature_name": signature, "instances": np.asarray(images, dtype=np.uint8).tolist()}
        request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        return np.array([prediction["probabilities"] for prediction in answer["predictions"]], dtype=np.float32)
    return classify


def answer_line(path: str, digits) -> str:
    if len(digits) == 1:
        return f"{path}: {digits[0].digit} (probability {digits[0].confidence:.3f})"
    number = "".join(str(d.digit) for d in digits)
    return f"{path}: {number} ({' '.join(f'{d.confidence:.2f}' for d in digits)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--server", default="http://localhost:8501")
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--version", type=int, help="a specific version (default: the newest served)")
    parser.add_argument("--dry-run", action="store_true", help="print the request body instead of sending it")
    parser.add_argument("--not-a-digit", action="store_true",
                        help="say 'not a digit' for ink that is none, and print calibrated probabilities")
    parser.add_argument("--served-model", help="with --not-a-digit: a local copy of the served model (its "
                        "SavedModel folder), whose temperature and confidence floor the judge knows")
    args = parser.parse_args(argv)
    if args.served_model and not args.not_a_digit:
        parser.error(f"--served-model {args.served_model} is only for --not-a-digit")
    try:
        if args.dry_run:
            print(json.dumps(build_request(args.images)))
            return 0
        if args.served_model and not Path(args.served_model).exists():
            raise DataError(f"--served-model: no such file or folder: {args.served_model}")
        judge = judge_for(args.served_model) if args.not_a_digit else None
        classify = served_classifier(predict_url(args.server, args.model, args.version))
        for path in args.images:
            reading = read(path, classify)
            print(judged(reading, judge).line(path) if judge else answer_line(path, reading.digits))
    except (urllib.error.URLError, OSError) as error:
        print(f"error: cannot reach TF Serving at {args.server}: {error}", file=sys.stderr)
        return 1
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
