"""Coarse digits: what a low-resolution scanner makes of MNIST's digits."""
import numpy as np
import pytest

from digitnet.core.errors import DataError
from digitnet.data.coarse import coarse


def test_coarse_digits_are_counted_in_few_levels_and_sit_in_the_middle(mnist):
    digits = mnist.train_images[:20]
    out = coarse(digits)
    assert out.shape == digits.shape and out.dtype == np.uint8
    inside = np.zeros((28, 28), bool)
    inside[4:24, 4:24] = True
    assert (out[:, ~inside] == 0).all() and (out[:, inside] > 0).any()
    # without enlarging (field = size), every pixel is one of the 17 counted levels and the
    # average grey is the digit's (box averaging keeps it), within half a level
    cells = coarse(digits, size=8, levels=17, field=8)[:, 10:18, 10:18]
    allowed = {int(round(k * 255 / 16)) for k in range(17)}
    assert set(np.unique(cells).tolist()) <= allowed
    np.testing.assert_allclose(cells.mean(axis=(1, 2)), digits.mean(axis=(1, 2), dtype=np.float64),
                               atol=255 / 32 + 0.5)
    assert np.array_equal(coarse(digits), out)  # deterministic


@pytest.mark.parametrize("bad, word", [(np.zeros((2, 28, 28), np.float32), "float32"),
                                       (np.zeros((28, 28), np.uint8), "[28, 28]")])
def test_coarse_names_what_it_received(bad, word):
    with pytest.raises(DataError, match=word.replace("[", r"\[").replace("]", r"\]")):
        coarse(bad)


@pytest.mark.parametrize("settings", [dict(size=8.0), dict(levels=2.5), dict(size=1), dict(field=6), dict(levels=True)])
def test_coarse_settings_are_whole_numbers_in_range(settings):
    with pytest.raises(DataError, match="received size="):
        coarse(np.zeros((1, 28, 28), np.uint8), **settings)
