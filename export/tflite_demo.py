"""Run an exported .tflite digit classifier on image files with LiteRT.

    python export/tflite_demo.py saved_models/tflite/lenet/1/lenet_int8.tflite digit1.png digit2.jpg

Prints each prediction with its probability and the per-image latency of
the interpreter's invoke(). The images are prepared and answered by
digitnet.predict (as `python -m digitnet.predict --model <file.tflite>` does),
run by digitnet.serving.runtimes.TFLitePredictor.
"""
from __future__ import annotations

import sys

from digitnet.core import cli
from digitnet.predict import predict_each
from digitnet.serving.runtimes import TFLitePredictor


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return cli.EXIT_USAGE
    predictor = TFLitePredictor(argv[0])
    failed = False
    for result in predict_each(predictor, argv[1:], argv[0]):
        if "error" in result:
            print(f"error: {result['error']}", file=sys.stderr)
            failed = True
            continue
        print(f"{result['file']}: {result['digit']} (probability {result['probability']:.3f}, "
              f"{1000 * predictor.latencies[-1]:.3f} ms)")
    return cli.EXIT_USAGE if failed else 0


if __name__ == "__main__":
    sys.exit(cli.run_command(main, sys.argv[1:]))
