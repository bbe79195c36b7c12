"""Inference latency (one image) and throughput (batch 256) per runtime.

    python benchmarks/inference.py [--saved-model saved_models/lenet/1] [--tflite-dir saved_models/tflite/lenet/1]

Keras model, SavedModel serving_default, and the three TFLite files in LiteRT
(batch fixed at 1, so their throughput is 256 single invokes). The SavedModel
and TFLite files run in digitnet.serving.runtimes' predictors, as `digitnet.predict`
and the export checks run them (uint8 images in, the first output out, TFLite
inputs quantised and outputs dequantised by the file's own parameters). The
Keras model is loaded by runtimes.load_keras_model and called as model(x):
KerasPredictor's model.predict sets up a data pipeline per call, which would
swamp one image's time. "(invoke only)" is the median time of the
interpreter's invoke() alone in the one-image runs (TFLitePredictor.latencies),
the figure a phone app sees per image.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import print_table, write_results

from digitnet.data.sources import load_digits


def _time(function, repeats: int) -> float:
    function()  # warm-up: tracing, allocation
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return float(np.median(timings))


def load_runtimes(args) -> dict:
    """Runtime name -> (function of uint8 images [N, 28, 28], its TFLitePredictor or None)."""
    from digitnet.core.images import to_model_input
    from digitnet.serving.runtimes import SavedModelPredictor, TFLitePredictor, load_keras_model

    runtimes = {}
    if Path(args.keras_model).exists():
        model = load_keras_model(args.keras_model)
        runtimes["keras (model(x))"] = (lambda x: model(to_model_input(x), training=False), None)
    runtimes["saved_model serving_default"] = (SavedModelPredictor(Path(args.saved_model)), None)
    for path in sorted(Path(args.tflite_dir).glob("*.tflite")):
        predictor = TFLitePredictor(path)
        runtimes[f"tflite {path.stem}"] = (predictor, predictor)
    return runtimes


def measure(name: str, function, tflite, one: np.ndarray, batch: np.ndarray, repeats: int) -> dict:
    """{runtime name: {"latency_ms", "batch256_images_per_second"}}, and its invoke-only latency for TFLite."""
    if tflite is not None:
        tflite.latencies.clear()
    latency = _time(lambda: function(one), repeats)
    results = {name: {"latency_ms": 1000 * latency}}
    if tflite is not None:  # one invoke per one-image call, the warm-up's first
        results[f"{name} (invoke only)"] = {"latency_ms": 1000 * float(np.median(tflite.latencies[1:]))}
    throughput = 256 / _time(lambda: function(batch), max(5, repeats // 20))
    results[name]["batch256_images_per_second"] = throughput
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keras-model", default="runs/lenet/model.keras")
    parser.add_argument("--saved-model", default="saved_models/lenet/1")
    parser.add_argument("--tflite-dir", default="saved_models/tflite/lenet/1")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    images = load_digits().test_images
    one, batch = images[:1], images[:256]
    results = {}
    for name, (function, tflite) in load_runtimes(args).items():
        results.update(measure(name, function, tflite, one, batch, args.repeats))
    rows = [[name, f"{result['latency_ms']:.4f}",
             f"{result['batch256_images_per_second']:,.0f}" if "batch256_images_per_second" in result else "–"]
            for name, result in results.items()]
    print_table("LeNet inference (median)", ["runtime", "1 image, ms", "batch 256, images/s"], rows)
    write_results("inference", {"runtimes": results})


if __name__ == "__main__":
    main()
