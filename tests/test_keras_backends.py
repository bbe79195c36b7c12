"""benchmarks/keras_backends.py: the registered recipes through Keras alone (what the GPU machine runs on JAX).

CI has only the TensorFlow backend; the test runs the script there on a few
hundred digits, so a change to the registry, the builders or
digitnet/optimizer.py that breaks the script fails here, not on the GPU machine.
"""
import json
import subprocess
import sys
from pathlib import Path

from conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


def test_the_keras_backend_benchmark_trains_the_registered_recipe(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/keras_backends.py", "--models", "fast,lenet", "--seeds", "1", "--epochs", "2",
         "--train-examples", "512", "--test-examples", "200", "--output", str(tmp_path / "result")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=subprocess_env(KERAS_BACKEND="tensorflow", PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["backend"] == "tensorflow" and result["machine"]["keras"]
    assert [(run["arch"], run["epochs"], run["batch_size"]) for run in result["runs"]] == [("fast", 2, 256),
                                                                                           ("lenet", 2, 100)]
    for run in result["runs"]:
        assert len(run["epoch_seconds"]) == 2 and run["training_seconds"] == sum(run["epoch_seconds"]) > 0
        assert 0.2 < run["test_accuracy"] <= 1.0  # chance is 0.1: it learned


def test_the_keras_backend_benchmark_refuses_a_model_that_is_not_a_classifier():
    done = subprocess.run([sys.executable, "benchmarks/keras_backends.py", "--models", "autoencoder"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=subprocess_env(PYTHONPATH=str(ROOT)))
    assert done.returncode == 2 and "received 'autoencoder'" in done.stderr and "Traceback" not in done.stderr
