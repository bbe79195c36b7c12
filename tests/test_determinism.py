import os
import subprocess
import sys

import keras
import numpy as np


def _train(folder, *extra):
    argv = [sys.executable, "-m", "digitnet.train", "--arch", "lenet", "--train-examples", "300",
            "--test-examples", "50", "--epochs", "2", "--quiet", "--output-dir", str(folder), *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    return keras.models.load_model(folder / "model.keras").get_weights()


def test_same_seed_deterministic_gives_bit_identical_weights(tmp_path):
    first = _train(tmp_path / "a", "--seed", "3", "--deterministic")
    second = _train(tmp_path / "b", "--seed", "3", "--deterministic")
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    other_seed = _train(tmp_path / "c", "--seed", "4", "--deterministic")
    assert not all(np.array_equal(x, y) for x, y in zip(first, other_seed))
