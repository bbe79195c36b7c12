"""Checks of staged exports on the whole test set, before a version is published."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from digitnet.serving.runtimes import SavedModelPredictor, TFLitePredictor


def _agreement(reference: np.ndarray, outputs: np.ndarray) -> dict:
    """How closely a runtime's outputs follow the Keras model's."""
    agreement = {"max_abs_difference": float(np.max(np.abs(reference - outputs)))}
    if reference.ndim == 2:
        agreement["argmax_agreement"] = float(np.mean(np.argmax(reference, 1) == np.argmax(outputs, 1)))
    return agreement


def check_saved_model(path: Path, task, data, reference: np.ndarray) -> dict:
    """The staged SavedModel run on the whole test set: {"test_metrics": {...}, "files": {...}} for the card."""
    outputs = SavedModelPredictor(path)(data.test_images)
    return {
        "test_metrics": {"saved_model": {**task.score(outputs, data.test_images, data.test_labels),
                                         **_agreement(reference, outputs)}},
        "files": {"saved_model_bytes": sum(f.stat().st_size for f in path.rglob("*") if f.is_file())},
    }


def check_tflite(paths: dict[str, Path], task, data, reference: np.ndarray) -> dict:
    """Each staged TFLite file run on the whole test set: {"test_metrics": {...}, "files": {...},
    "tflite_io": {variant: its input and output dtype, scale and zero point}} for the card
    (what a runtime without tensor details, such as LiteRT.js, needs to quantize and dequantize)."""
    checks: dict = {"test_metrics": {}, "files": {}, "tflite_io": {}}
    for variant, path in paths.items():
        predictor = TFLitePredictor(path)
        outputs = predictor(data.test_images)
        checks["test_metrics"][f"tflite_{variant}"] = {
            **task.score(outputs, data.test_images, data.test_labels), **_agreement(reference, outputs),
            "median_latency_ms": round(1000 * float(np.median(predictor.latencies)), 4)}
        checks["files"][f"tflite_{variant}_bytes"] = path.stat().st_size
        checks["tflite_io"][variant] = predictor.io_spec()
    return checks
