"""Run an exported .tflite digit classifier on image files with LiteRT.

    python export/tflite_demo.py saved_models/tflite/lenet/1/lenet_int8.tflite digit1.png digit2.jpg

Prints each prediction with its probability and the per-image latency of
the interpreter's invoke().
"""
from __future__ import annotations

import sys

import numpy as np

from digitnet.errors import DataError
from digitnet.preprocess import prepare_file
from digitnet.runtimes import TFLitePredictor


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    predictor = TFLitePredictor(argv[0])
    failed = False
    for path in argv[1:]:
        try:
            image = prepare_file(path)
        except DataError as error:
            print(f"error: {error}", file=sys.stderr)
            failed = True
            continue
        probabilities = predictor(image[None])[0]
        digit = int(np.argmax(probabilities))
        print(f"{path}: {digit} (probability {probabilities[digit]:.3f}, {1000 * predictor.latencies[-1]:.3f} ms)")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
