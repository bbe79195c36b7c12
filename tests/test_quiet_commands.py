"""What the commands write to stderr: only digitnet's own lines, unless --debug.

TensorFlow, LiteRT and the TFLite converter write notices straight to file
descriptor 2 (CUDA's cuInit on a machine without a GPU, the XNNPACK delegate,
the converter's quantisation settings). Which of them appear depends on the
CPU and the TensorFlow build, so the tests assert that none of the known ones
gets through, never that stderr is empty.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import subprocess_env
from PIL import Image

from digitnet.data.photo_synth import make_photo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Lines the native libraries write to file descriptor 2 on some machine or other.
NATIVE_LINES = ("cuInit", "Could not find cuda drivers", "oneDNN custom operations", "absl::InitializeLog",
                "Created TensorFlow Lite XNNPACK delegate", "fully_quantize", "inference_type")


def loud_env() -> dict[str, str]:
    """The environment with TensorFlow's own log level: digitnet must hide the lines itself."""
    env = subprocess_env()
    del env["TF_CPP_MIN_LOG_LEVEL"]
    return env


def run_module(module: str, *argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, cwd=ROOT,
                          env=loud_env(), timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def assert_no_native_lines(stderr: str) -> None:
    found = [line for line in NATIVE_LINES if line in stderr]
    assert not found, f"native lines on stderr: {found}\n{stderr[-2000:]}"


@pytest.fixture(scope="module")
def photo(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "seven.png"
    make_photo(mnist.test_images[0], ("shadow",), np.random.default_rng(0)).save(path)
    return str(path)


def test_predict_by_default_answers_without_tensorflow(photo):
    """The default model is the int8 TFLite committee, run by LiteRT: neither TensorFlow nor Keras is imported."""
    code = ("import sys; from digitnet import predict; from digitnet.core import cli; "
            f"code = cli.run_command(predict.main, [{photo!r}]); "
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=loud_env(),
                          timeout=120)
    assert done.stdout.splitlines()[-1].split() == ["0", "False", "False"], done.stdout + done.stderr[-2000:]
    assert f"{photo}: 7 (probability" in done.stdout
    assert "committee_int8.tflite" in done.stderr  # the line saying which model answers
    assert_no_native_lines(done.stderr)


def test_predict_stderr_holds_no_native_lines(photo):
    assert_no_native_lines(run_module("digitnet.predict", photo).stderr)
    assert_no_native_lines(run_module("digitnet.predict", "--model", "saved_models/lenet/1", photo).stderr)


@pytest.fixture(scope="module")
def tiny_keras_model(tmp_path_factory):
    import keras

    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return str(path)


@pytest.mark.slow
def test_export_stderr_holds_no_native_lines(tiny_keras_model, tmp_path):
    done = run_module("digitnet.export", "--model", tiny_keras_model, "--formats", "saved_model,tflite",
                      "--output-dir", str(tmp_path / "out"))
    assert "TFLite files written" in done.stdout
    assert_no_native_lines(done.stderr)


@pytest.mark.slow
def test_committee_stderr_holds_no_native_lines(tmp_path):
    done = run_module("digitnet.committee", "--arch", "bpnn", "--members", "1", "--train-examples", "100",
                      "--test-examples", "20", "--epochs", "1", "--quiet", "--output-dir", str(tmp_path / "c"),
                      "--export", "saved_model,tflite", "--export-dir", str(tmp_path / "exported"))
    assert "committee of 1 bpnn" in done.stdout
    assert_no_native_lines(done.stderr)
    grown = run_module("digitnet.committee", "--arch", "bpnn", "--extend", str(tmp_path / "exported" / "committee" / "1"),
                       "--test-examples", "20", "--output-dir", str(tmp_path / "grown"))
    assert "committee of 1 bpnn" in grown.stdout, grown.stderr[-2000:]
    assert_no_native_lines(grown.stderr)
