import gzip
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from digitnet.data.sources import load_digits  # noqa: E402


def quick_train_args(train: int = 300, test: int = 100, epochs: int = 1) -> list[str]:
    """The flags of a short, quiet training run: `train` and `test` examples, `epochs` epochs."""
    return ["--train-examples", str(train), "--test-examples", str(test), "--epochs", str(epochs), "--quiet"]


QUICK_TRAIN = quick_train_args()  # 300 training and 100 test examples, one epoch, quiet


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child, TensorFlow's C++ log lines silenced, then `extra` on top."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


# On the PYTHONPATH of a child, as sitecustomize.py: TensorFlow cannot be imported, as on a machine with Keras on
# JAX and no TensorFlow.
NO_TENSORFLOW = """
import importlib.abc, sys
class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test, as on a machine with "
                                      "Keras on JAX and no TensorFlow)")
sys.meta_path.insert(0, NoTensorFlow())
"""


def run_python(code: str, timeout: int = 300, **kwargs) -> subprocess.CompletedProcess:
    """`python -c CODE` in a fresh interpreter (what it imports is its own), output captured."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=kwargs.pop("env", subprocess_env()), **kwargs)


def train_command(*argv: str) -> list[str]:
    """`python -m digitnet.train ARGV...` with this interpreter."""
    return [sys.executable, "-m", "digitnet.train", *argv]


def run_train(argv, env=None, timeout=300) -> subprocess.CompletedProcess:
    """`python -m digitnet.train ARGV` in a child process; asserts that it succeeded (stderr's tail if not)."""
    done = subprocess.run(train_command(*argv), capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env() if env is None else env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def kill_after_backup(argv, folder, epochs: int = 1, seconds: int = 300) -> None:
    """`python -m digitnet.train ARGV --output-dir FOLDER`, SIGKILLed the moment its backup of
    `epochs` completed epochs exists: a kill that runs no clean-up, as a power cut would."""
    import signal
    import time

    backup = Path(folder) / "backup" / "train" / f"epoch-{epochs}.weights.h5"
    process = subprocess.Popen(train_command(*argv, "--output-dir", str(folder)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=subprocess_env())
    try:
        deadline = time.monotonic() + seconds
        while not backup.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backup.exists(), f"the run never backed up epoch {epochs}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def run_train_cli(argv, **kwargs) -> int:
    """The training CLI in this process, as `python -m digitnet.train ARGV` runs it; its exit code."""
    from digitnet import train
    from digitnet.core import cli

    return cli.run_command(train.main, argv, **kwargs)


IDX_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_TYPE_CODES[array.dtype], array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.tobytes()


def write_idx(path, array: np.ndarray, compress: bool = True) -> str:
    raw = idx_bytes(array)
    with open(path, "wb") as file:
        file.write(gzip.compress(raw) if compress else raw)
    return str(path)


def write_digit_folder(folder, train_count=60, test_count=20, seed=0, compress=True) -> str:
    """A small MNIST-format folder of random 'digits' (like Fashion-MNIST's layout)."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    suffix = ".gz" if compress else ""
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{suffix}"),
                  rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), compress)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{suffix}"),
                  rng.integers(0, 10, count, dtype=np.uint8), compress)
    return str(folder)


def write_mnist_subset(folder, mnist, train_count: int, test_count: int) -> str:
    """An MNIST-format folder holding the first `train_count` training and `test_count` test digits of `mnist`."""
    os.makedirs(folder, exist_ok=True)
    for prefix, images, labels in (("train", mnist.train_images[:train_count], mnist.train_labels[:train_count]),
                                   ("t10k", mnist.test_images[:test_count], mnist.test_labels[:test_count])):
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    return str(folder)


@pytest.fixture(scope="session")
def mnist():
    """The embedded MNIST, loaded once for the whole session."""
    return load_digits()


@pytest.fixture(scope="session")
def small_mnist(mnist):
    return mnist.take_train(300).take_test(100)


def tflite_probabilities(path, images):
    """LiteRT's interpreter driven directly, by the input contract on the model card."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (source,), (result,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert source["shape"].tolist() == [1, 28, 28, 1]
    if source["dtype"] == np.uint8:  # "uint8 raw pixels (scale 1/255)"
        assert source["quantization"] == pytest.approx((1 / 255, 0))
    outputs = []
    for image in images:
        pixels = image[None, :, :, None]
        if source["dtype"] != np.uint8:
            pixels = pixels.astype(np.float32) / 255
        interpreter.set_tensor(source["index"], pixels)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(result["index"])[0])
    scale, zero_point = result["quantization"]
    outputs = np.array(outputs)
    return (outputs.astype(np.float32) - zero_point) * scale if result["dtype"] == np.uint8 else outputs
