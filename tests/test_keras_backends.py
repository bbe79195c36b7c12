"""benchmarks/keras_backends.py: the registered recipes through the training loop's arrays feed (what a machine
with Keras on JAX and no TensorFlow runs).

The script runs here on a few thousand digits, under Keras' TensorFlow backend
and under its JAX backend with TensorFlow made unimportable (as on such a
machine), so a change to the loop, the registry, the builders or
digitnet/training/optimizer.py that breaks it, or that imports TensorFlow on
its path, fails here and not there.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NO_TENSORFLOW, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "keras_backends.py"


def run_script(*argv: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=subprocess_env(KERAS_BACKEND="tensorflow", PYTHONPATH=str(ROOT)))


@pytest.mark.slow
def test_the_keras_backend_benchmark_trains_the_registered_recipe(tmp_path):
    done = run_script("--models", "fast,lenet", "--seeds", "1", "--epochs", "2", "--train-examples", "2048",
                      "--test-examples", "200", "--output", str(tmp_path / "result"))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["backend"] == "tensorflow" and result["machine"]["keras"]
    assert [(run["arch"], run["epochs"], run["batch_size"], run["augment"]) for run in result["runs"]] == [
        ("fast", 2, 256, "none"), ("lenet", 2, 100, "none")]
    for run in result["runs"]:
        assert len(run["epoch_seconds"]) == 2 and run["training_seconds"] == sum(run["epoch_seconds"]) > 0
        assert 0.2 < run["test_accuracy"] <= 1.0  # chance is 0.1: it learned


@pytest.mark.parametrize("argv, named", [
    (["--models", "autoencoder"], "received 'autoencoder'"),  # not a classifier
    (["--models", "ae_classifier"], "received 'ae_classifier'"),  # pretraining and a frozen stage
    (["--models", "lenett"], "unknown arch 'lenett'"),
    (["--seeds", "0"], "received 0"),
    (["--epochs", "0"], "--epochs must be a positive integer, received 0"),
    (["--augment", "elastic"], "--augment elastic adds an elastic field"),  # the arrays feed draws affine only
])
def test_the_keras_backend_benchmark_refuses_bad_flags_in_one_line(argv, named):
    done = run_script(*argv, timeout=120)
    assert done.returncode == 2 and named in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.slow
def test_the_keras_backend_benchmark_runs_on_jax_without_tensorflow(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(NO_TENSORFLOW)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "fast", "--seeds", "1", "--train-examples", "2048",
         "--test-examples", "200", "--output", str(tmp_path / "result")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=subprocess_env(KERAS_BACKEND="jax", PYTHONPATH=f"{tmp_path}:{ROOT}"))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["backend"] == "jax" and "jax" in result["machine"] and "tensorflow" not in result["machine"]
    assert result["runs"][0]["arch"] == "fast" and 0.2 < result["runs"][0]["test_accuracy"] <= 1.0
