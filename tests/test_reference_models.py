"""The models committed in saved_models/ load and reach what their cards state."""
import json
from pathlib import Path

import numpy as np
import pytest

from digitnet.runtimes import load_predictor

ROOT = Path(__file__).resolve().parent.parent / "saved_models"
MODELS = [
    (ROOT / "lenet" / "1", "saved_model"),
    (ROOT / "bpnn" / "1", "saved_model"),
    *[(ROOT / "tflite" / "lenet" / "1" / f"lenet_{variant}.tflite", f"tflite_{variant}")
      for variant in ("float32", "dynamic_range", "int8")],
]


@pytest.mark.parametrize("path, key", MODELS, ids=[key + ":" + p.parent.name for p, key in MODELS])
def test_reference_model_reaches_its_card(path, key, mnist):
    card_folder = path if path.is_dir() else path.parent
    card = json.loads((card_folder / "model_card.json").read_text())
    outputs = load_predictor(path)(mnist.test_images)
    accuracy = float(np.mean(np.argmax(outputs, axis=1) == mnist.test_labels))
    assert accuracy == pytest.approx(card["test_metrics"][key]["accuracy"], abs=1e-9)
    assert accuracy > 0.97


def test_int8_stays_within_0_3_points_of_float32():
    card = json.loads((ROOT / "tflite" / "lenet" / "1" / "model_card.json").read_text())["test_metrics"]
    assert abs(card["tflite_int8"]["accuracy"] - card["tflite_float32"]["accuracy"]) <= 0.003
    assert card["tflite_float32"]["argmax_agreement"] >= 0.999
