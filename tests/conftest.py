import gzip
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from digitnet.data import load_digits  # noqa: E402

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


@pytest.fixture(scope="session")
def mnist():
    """The embedded MNIST, loaded once for the whole session."""
    return load_digits()


@pytest.fixture(scope="session")
def small_mnist(mnist):
    return mnist.take_train(300).take_test(100)
