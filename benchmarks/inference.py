"""Inference latency (one image) and throughput (batch 256) per runtime.

    python benchmarks/inference.py [--saved-model saved_models/lenet/1] [--tflite-dir saved_models/tflite/lenet/1]

Keras model, SavedModel serving_default, and the three TFLite files in LiteRT
(batch fixed at 1, so their throughput is 256 single invokes).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import print_table, write_results

from digitnet.data import load_digits


def _time(function, repeats: int) -> float:
    function()  # warm-up: tracing, allocation
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return float(np.median(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keras-model", default="runs/lenet/model.keras")
    parser.add_argument("--saved-model", default="saved_models/lenet/1")
    parser.add_argument("--tflite-dir", default="saved_models/tflite/lenet/1")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    import keras
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from digitnet.pipeline import normalize_images

    images = load_digits().test_images
    one, batch = images[:1], images[:256]
    runtimes = {}
    if Path(args.keras_model).exists():
        model = keras.models.load_model(args.keras_model)
        runtimes["keras (model(x))"] = (lambda x: model(normalize_images(x), training=False))
    signature = tf.saved_model.load(args.saved_model).signatures["serving_default"]
    runtimes["saved_model serving_default"] = lambda x: signature(images=tf.constant(x))
    for path in sorted(Path(args.tflite_dir).glob("*.tflite")):
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

        def run(x, interpreter=interpreter, detail=detail, output=output):
            for image in x:
                value = image[None, :, :, None]
                value = value if detail["dtype"] == np.uint8 else value.astype(np.float32) / 255.0
                interpreter.set_tensor(detail["index"], value)
                interpreter.invoke()
                interpreter.get_tensor(output["index"])

        runtimes[f"tflite {path.stem}"] = run
        # invoke() alone, the figure a phone app sees per image
        interpreter.set_tensor(detail["index"], (one[0][None, :, :, None] if detail["dtype"] == np.uint8
                                                 else one[0][None, :, :, None].astype(np.float32) / 255.0))
        runtimes[f"tflite {path.stem} (invoke only)"] = (lambda x, interpreter=interpreter: interpreter.invoke())
    rows, results = [], {}
    for name, function in runtimes.items():
        latency = _time(lambda: function(one), args.repeats)
        if name.endswith("(invoke only)"):  # one invoke on a set input: no batch to speak of
            results[name] = {"latency_ms": 1000 * latency}
            rows.append([name, f"{1000 * latency:.4f}", "–"])
            continue
        throughput = 256 / _time(lambda: function(batch), max(5, args.repeats // 20))
        results[name] = {"latency_ms": 1000 * latency, "batch256_images_per_second": throughput}
        rows.append([name, f"{1000 * latency:.4f}", f"{throughput:,.0f}"])
    print_table("LeNet inference (median)", ["runtime", "1 image, ms", "batch 256, images/s"], rows)
    write_results("inference", {"runtimes": results})


if __name__ == "__main__":
    main()
