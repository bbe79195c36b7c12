"""One trainer: digitnet/training/loop.py is the only module that calls Keras' fit, and a model
outside the REGISTRY (a ModelSpec of one's own, such as the not-a-digit detector) trains through it."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEARCHED = ("digitnet", "benchmarks", "export", "reports")
THE_TRAINER = Path("digitnet/training/loop.py")


def fit_calls(source: str) -> list[int]:
    """Line numbers of every call of a `.fit(...)` attribute (model.fit, self.model.fit, ...) in `source`,
    also inside a string that is itself a Python program (a script a benchmark runs in a child process)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fit":
            lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
            try:
                lines += [node.lineno] * len(fit_calls(node.value))
            except SyntaxError:  # prose, not a program
                pass
    return sorted(lines)


def test_the_search_finds_fit_calls_and_nothing_else():
    child = 'CHILD = """\nimport keras\nmodel.fit(x, epochs=1)\n"""\n'
    prose = '"""Counts images as model.fit consumes them.\nNo call here."""\n'
    source = "model.fit(x)\nself.trainer.fit(x, epochs=2)\nfit(x)\ncalibration.fit_sets(x)\nprint('model.fit(x)')\n"
    assert fit_calls(source + child + prose) == [1, 2, 6]


def test_only_the_training_loop_calls_fit():
    callers = {}
    for folder in SEARCHED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = fit_calls(path.read_text())
            if lines:
                callers[str(path.relative_to(ROOT))] = lines
    assert list(callers) == [str(THE_TRAINER)], callers
    assert len(callers[str(THE_TRAINER)]) == 1, callers


@pytest.mark.slow
def test_the_detector_trains_through_the_loop_and_the_judge_reads_its_weights(tmp_path):
    """A tiny detector run (small sets, one epoch): an ordinary run folder with 11 classes, and a
    detector.npz whose NumPy detector computes what the trained Keras model computes."""
    from digitnet.experiments.detector import detector_data, save_detector, train_detector
    from digitnet.serving.judge import NOT_A_DIGIT_CLASS, Detector
    from digitnet.training import run_folder

    sizes = {"clean": 300, "photos": 20, "styles": 20, "negatives": 300, "negative_photos": 20,
             "negative_styles": 20, "pen": 20}
    data = detector_data(tmp_path / "sets", sizes)  # kept there: the training below reads the same sets
    # Digits 0-9 and NOT_A_DIGIT_CLASS in both splits; the fit purpose has no restyled negatives
    # and holds pen-drawn digits (calibration's fit set).
    assert set(np.unique(data.train_labels)) == set(np.unique(data.test_labels)) == set(range(11))
    assert 660 <= len(data.train_labels) <= 680 and 640 <= len(data.test_labels) <= 680
    result, model = train_detector(tmp_path / "run", tmp_path / "sets", epochs=1, sizes=sizes, verbose=0)
    folder = run_folder.RunFolder(result.output_dir)
    metrics = json.loads((result.output_dir / run_folder.METRICS).read_text())
    assert metrics["arch"] == "not_a_digit" and metrics["task"] == "classification"
    assert (metrics["train_examples"], metrics["test_examples"]) == (len(data.train_labels), len(data.test_labels))
    assert json.loads((result.output_dir / run_folder.CONFIG).read_text())["model"]["summary"].startswith(
        "not-a-digit detector")
    assert folder.model.is_file() and (result.output_dir / "confusion_matrix.png").is_file()
    assert model.output_shape == (None, NOT_A_DIGIT_CLASS + 1)

    detector = Detector.load(save_detector(model, result.output_dir))
    images = np.random.default_rng(1).integers(0, 256, (8, 28, 28)).astype(np.uint8)
    expected = np.asarray(model(images.astype(np.float32)[..., None] / 255.0))[:, NOT_A_DIGIT_CLASS]
    # detector.npz holds float16 weights: the same function, to float16's precision.
    np.testing.assert_allclose(detector(images), expected, atol=2e-3)


@pytest.mark.slow
def test_a_spec_of_ones_own_trains_through_the_same_loop(tmp_path):
    """A ModelSpec whose builder is a function (no REGISTRY entry): its settings are the
    defaults, its name is config.arch, and the run is reused like any finished run."""
    import keras

    from digitnet.data.sources import load_digits
    from digitnet.models.registry import ModelSpec
    from digitnet.training.config import TrainConfig
    from digitnet.training.loop import train

    def build_tiny():
        return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(10, activation="softmax")], name="tiny")

    spec = ModelSpec(build_tiny, "classification", 2, 0.01, 50, "one dense layer")
    config = TrainConfig(arch="tiny", train_examples=200, test_examples=100, output_dir=str(tmp_path), verbose=0)
    data = load_digits()
    result = train(config, data=data, spec=spec)
    recorded = json.loads((tmp_path / "config.json").read_text())["config"]
    assert (recorded["epochs"], recorded["batch_size"], recorded["learning_rate"]) == (2, 50, 0.01)
    assert result.metrics["arch"] == "tiny" and result.metrics["test"]["accuracy"] > 0.3
    assert train(config, data=data, spec=spec).reused
