"""Generated non-digits: seeded, in MNIST's placement, every kind drawn, bad requests refused."""
import numpy as np
import pytest

from digitnet.data import negatives
from digitnet.data.negatives import KINDS, generate


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test_images[:300], mnist.test_labels[:300]


@pytest.fixture(scope="module")
def drawn(digits):
    return generate(60, seed=5, digits=digits[0], labels=digits[1])


def test_the_same_seed_draws_the_same_negatives_and_another_seed_others(drawn, digits):
    again = generate(60, seed=5, digits=digits[0], labels=digits[1])
    assert np.array_equal(again.images, drawn.images) and np.array_equal(again.kinds, drawn.kinds)
    other = generate(60, seed=6, digits=digits[0], labels=digits[1])
    assert all(not np.array_equal(a, b) for a, b in zip(other.images, drawn.images))


def test_every_kind_takes_its_turn(drawn):
    assert list(drawn.kinds[:len(KINDS)]) == list(KINDS)
    assert {kind: int(np.sum(drawn.kinds == kind)) for kind in KINDS} == {kind: 10 for kind in KINDS}


def test_negatives_are_placed_as_mnist_digits_are(drawn):
    """uint8 28x28, ink up to 255, the box's longer side 20 pixels, the centre of mass at (14, 14)."""
    assert drawn.images.dtype == np.uint8 and drawn.images.shape == (60, 28, 28)
    for image in drawn.images:
        assert image.max() >= 200
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        assert 19 <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 22
        ys, xs = np.indices(image.shape)
        mass = image.astype(float) / image.sum()
        assert abs((ys * mass).sum() - 14) < 1.5 and abs((xs * mass).sum() - 14) < 1.5


def test_a_crossed_out_digit_keeps_the_digit_and_adds_strokes(digits):
    crossed = negatives._crossed_out(digits[0][0], np.random.default_rng(0))
    digit = negatives._digit_canvas(digits[0][0])
    assert np.all(crossed >= digit - 1e-12) and crossed.sum() > 1.3 * digit.sum()


def test_two_overlaid_digits_each_add_ink_of_their_own(digits):
    images, labels = digits
    one = images[np.flatnonzero(labels == 1)[0]]
    eight = images[np.flatnonzero(labels == 8)[0]]
    zero = images[np.flatnonzero(labels == 0)[0]]
    # A 1 drawn over an 8 hides in it: refused. A 0 and an 8 side by side in one field: kept.
    assert negatives._overlaid(eight, one, np.random.default_rng(0)) is None or \
        negatives.OVERLAP_NEW_INK * one.sum() <= (np.maximum(eight, one).astype(float).sum() - eight.sum())
    assert negatives._overlaid(zero, eight, np.random.default_rng(1)) is not None


def test_strokes_are_drawn_with_the_pen_width_asked_for():
    ink = negatives.draw([np.array([[10.0, 32.0], [54.0, 32.0]])], width=6.0)
    column = ink[:, 32]
    assert column.sum() == pytest.approx(6.0, abs=0.6) and ink[32, 5] == 0 and ink[32, 32] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"count": -1}, "count must be an integer >= 0, received -1"),
    ({"count": 2.5}, "count must be an integer >= 0, received 2.5"),
    ({"count": 3, "kinds": ("letter", "emoji")}, r"received \['letter', 'emoji'\]"),
    ({"count": 3, "kinds": ()}, r"received \[\]"),
    ({"count": 3, "kinds": ("overlaid",)}, "need MNIST digits and their labels"),
])
def test_bad_requests_name_what_they_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(seed=0, **kwargs)


def test_kinds_without_digits_need_none():
    drawn = generate(8, seed=1, kinds=("letter", "symbol", "scribble", "shape"))
    assert list(drawn.kinds) == ["letter", "symbol", "scribble", "shape"] * 2
