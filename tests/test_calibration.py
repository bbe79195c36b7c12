"""Calibration error and temperature scaling, checked against figures worked out by hand."""
import json

import numpy as np
import pytest

from digitnet.serving import calibration
from digitnet.serving.calibration import Calibration, expected_calibration_error, fit_temperature, scaled


def _rows(tops):
    """Two-class probability rows whose top probability (class 0) is each of `tops`."""
    tops = np.asarray(tops, dtype=np.float64)
    return np.stack([tops, 1 - tops], axis=1)


def test_ece_of_a_small_example_worked_out_by_hand():
    # Five answers, 15 bins of width 1/15:
    #   0.95 and 0.97 (bin (14/15, 1]): one right, one wrong -> accuracy 0.5, confidence 0.96, gap 0.46
    #   0.55 and 0.60 (bin (8/15, 9/15]): both right -> accuracy 1, confidence 0.575, gap 0.425
    #   0.70 (bin (10/15, 11/15]): wrong -> accuracy 0, confidence 0.7, gap 0.7
    # ECE = 2/5 * 0.46 + 2/5 * 0.425 + 1/5 * 0.7 = 0.184 + 0.17 + 0.14 = 0.494
    probabilities = _rows([0.95, 0.97, 0.55, 0.60, 0.70])
    labels = np.array([0, 1, 0, 0, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.494, abs=1e-12)


def test_ece_is_zero_when_every_bin_is_as_right_as_it_is_confident():
    # Ten answers at 0.8 of which eight are right, four at 0.5 (bin (7/15, 8/15]) of which two are right.
    probabilities = _rows([0.8] * 10 + [0.5] * 4)
    labels = np.array([0] * 8 + [1] * 2 + [0, 0, 1, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0, abs=1e-12)


def test_a_confidence_of_exactly_a_bin_edge_falls_in_the_lower_bin():
    # 0.6 = 9/15 lies in bin (8/15, 9/15], with 0.55; 0.61 in the next one.
    table = calibration.reliability(_rows([0.55, 0.6, 0.61]), np.array([0, 0, 0]))
    assert table["count"][8] == 2 and table["count"][9] == 1


def test_fitting_finds_the_temperature_that_made_the_labels():
    """Labels drawn from softmax(z / 2) while the model says softmax(z): the fit must find T = 2."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (20000, 10))
    true = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(10, p=row) for row in true])
    served = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    temperature = fit_temperature({"drawn": (served, labels)})
    assert temperature == pytest.approx(2.0, abs=0.1)
    assert expected_calibration_error(scaled(served, temperature), labels) < 0.5 * expected_calibration_error(
        served, labels)


def test_scaling_keeps_every_answer_and_temperature_one_keeps_the_probabilities():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (50, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scaled(probabilities, 1.0), np.clip(probabilities, calibration.FLOOR, 1)
                               / np.clip(probabilities, calibration.FLOOR, 1).sum(axis=1, keepdims=True), atol=1e-12)
    for temperature in (0.5, 2.5):
        assert np.array_equal(scaled(probabilities, temperature).argmax(axis=1), probabilities.argmax(axis=1))


def test_int8_probabilities_of_zero_still_scale():
    rows = np.array([[0.99609375] + [0.0] * 8 + [0.00390625]])  # an int8 model's steps of 1/256
    out = scaled(rows, 2.0)
    assert np.all(np.isfinite(out)) and out[0].argmax() == 0 and out[0, 0] < rows[0, 0]


@pytest.mark.parametrize("record", [{"temperature": 0}, {"temperature": -1.0}, {"temperature": "2"}, {}, [1.5]])
def test_a_bad_calibration_record_names_what_it_received(record):
    with pytest.raises(ValueError, match="positive finite temperature; received"):
        Calibration.from_json(record)


def test_a_calibration_file_round_trips_and_a_bad_one_names_the_file(tmp_path):
    path = calibration.write_calibration(tmp_path / "calibration.json", Calibration(1.7, ("clean", "photos")))
    assert calibration.read_calibration(path) == Calibration(1.7, ("clean", "photos"))
    (tmp_path / "bad.json").write_text(json.dumps({"temperature": None}))
    with pytest.raises(ValueError, match="bad.json: not a calibration file"):
        calibration.read_calibration(tmp_path / "bad.json")


def test_bad_shapes_are_refused_with_the_shapes_received():
    with pytest.raises(ValueError, match=r"received \[3, 2\] and \[2\]"):
        expected_calibration_error(_rows([0.5, 0.6, 0.7]), np.array([0, 1]))


def test_the_reliability_diagram_is_written(tmp_path):
    rng = np.random.default_rng(2)
    probabilities = rng.dirichlet(np.ones(10) * 0.3, 200)
    labels = rng.integers(0, 10, 200)
    path = calibration.plot_reliability({"random": (probabilities, labels)}, tmp_path / "reliability.png",
                                        "random", Calibration(1.5))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_run_folder_gets_its_calibration_and_reliability_diagram(tmp_path):
    from conftest import QUICK_TRAIN, run_train

    from digitnet.experiments.run_reliability import reliability_for_run

    run_train(["--arch", "bpnn", *QUICK_TRAIN, "--output-dir", str(tmp_path / "run")])
    sizes = {"clean": 300, "photos": 20, "styles": 20}
    result = reliability_for_run(tmp_path / "run", cache_dir=None, sizes=sizes)
    stored = calibration.read_calibration(tmp_path / "run" / "calibration.json")
    assert stored.temperature == result["temperature"] and stored.fitted_on == ("clean", "photos", "styles")
    assert (tmp_path / "run" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert set(result["ece"]) == {"clean", "photos", "styles"}


def test_a_run_folder_without_a_model_is_a_clear_error(tmp_path):
    from digitnet.core.errors import DataError
    from digitnet.experiments.run_reliability import reliability_for_run

    with pytest.raises(DataError, match="no model.keras in this run folder"):
        reliability_for_run(tmp_path)


def test_the_calibration_benchmark_uses_the_newest_judge_and_every_reference_model(monkeypatch):
    """benchmarks/calibration.py fits and measures every reference model (each version, SavedModel and
    int8 TFLite) with the judge that predict loads, the newest saved_models/not_a_digit/<version>."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_calibration", root / "benchmarks" / "calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    newest = max((p for p in Path("saved_models/not_a_digit").iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    assert Path(module.build_parser().parse_args([]).judge) == newest
    reference = [str(p) for p in Path("saved_models").glob("*/*") if p.parent.name in ("lenet", "committee")]
    reference += [str(p) for p in Path("saved_models/tflite").glob("*/*/*_int8.tflite")
                  if p.parts[-3] in ("lenet", "committee")]
    assert sorted(reference) == sorted(module.MODELS)
