import keras
import numpy as np
import pytest
from conftest import quick_train_args, run_train


def _train(folder, *extra):
    run_train(["--arch", "lenet", *quick_train_args(test=50, epochs=2), "--output-dir", str(folder), *extra])
    return keras.models.load_model(folder / "model.keras").get_weights()


@pytest.mark.slow
def test_same_seed_deterministic_gives_bit_identical_weights(tmp_path):
    first = _train(tmp_path / "a", "--seed", "3", "--deterministic")
    second = _train(tmp_path / "b", "--seed", "3", "--deterministic")
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    other_seed = _train(tmp_path / "c", "--seed", "4", "--deterministic")
    assert not all(np.array_equal(x, y) for x, y in zip(first, other_seed))
