"""Photos of written numbers made of MNIST digits, for testing and benchmarking segmentation.

A number here is 2-6 digits (any 28x28 digits in MNIST polarity: MNIST's
test digits, or other writers' scaled to that form) written in a row: each
digit at its own size (0.85-1.15 of the row's), its baseline wobbling by up
to 8 % of the row's height, the gap between the ink of neighbours drawn from
"overlapping by a few pixels" to wide (in MNIST pixels: -3 to 10). The
photo around it is made as digitnet.data.photo_synth makes a digit's: paper
of level 215-255, the same hard cases (lighting, shadow, glare, patches,
JPEG, pens, ruled and margin lines), grey or RGB, sensor noise. Seeded: the
same digits, cases and generator give the same photo.

    from digitnet.data.number_synth import make_number
    photo, boxes = make_number(mnist_digits[:4], ("shadow",), np.random.default_rng(0))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from digitnet.data import photo_synth

GAP = (-3.0, 10.0)  # between neighbours' ink, in MNIST pixels (negative: they overlap)
SIZE = (0.85, 1.15)  # each digit's size relative to the row's
WOBBLE = 0.08  # baseline shift, as a fraction of the row's height (either way)
ROW = (60, 161)  # the row's digit size (a 28x28 field), in pixels


def _columns(digit: np.ndarray) -> tuple[int, int]:
    """First and last column (exclusive) of the digit's ink in its 28x28 field."""
    columns = np.flatnonzero(digit.max(axis=0) > 0)
    return (int(columns[0]), int(columns[-1]) + 1) if columns.size else (0, digit.shape[1])


def layout(digits: Sequence[np.ndarray], size: int, rng: np.random.Generator,
           gap: tuple[float, float] | None = None) -> list[tuple[int, int, int]]:
    """(left, top, size) of each digit's field in the row, the first field at (0, 0) before shifting;
    the gaps between neighbours' ink drawn from `gap` (default GAP), in MNIST pixels."""
    gap = GAP if gap is None else gap
    places, ink_right = [], None
    for digit in digits:
        own = int(round(size * rng.uniform(*SIZE)))
        unit = own / 28
        first, last = _columns(digit)
        top = int(round((size - own) + size * rng.uniform(-WOBBLE, WOBBLE)))  # bottoms roughly aligned
        left = 0 if ink_right is None else int(round(ink_right + rng.uniform(*gap) * unit - first * unit))
        places.append((left, top, own))
        ink_right = left + last * unit
    low_left, low_top = min(p[0] for p in places), min(p[1] for p in places)
    return [(left - low_left, top - low_top, own) for left, top, own in places]


def make_number(digits: Sequence[np.ndarray], cases: Sequence[str], rng: np.random.Generator, *,
                rgb: bool = False, noise: bool = True,
                gap: tuple[float, float] | None = None) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """A photo of the digits written in a row, with the named hard cases of photo_synth.CASES,
    and each digit's ink box in it (left, top, right, bottom; exclusive); `gap`: layout's."""
    pen = photo_synth.check_cases(cases)
    if not 1 <= len(digits) <= 12:
        raise ValueError(f"a number has 1 to 12 digits, received {len(digits)}")
    size = int(rng.integers(*ROW))
    places = layout(digits, size, rng, gap)
    row_width = max(left + own for left, _, own in places)
    row_height = max(top + own for _, top, own in places)
    height = int(row_height * rng.uniform(1.25, 2.2))
    width = int(row_width + size * rng.uniform(0.25, 1.2))
    top, left = int(rng.integers(0, height - row_height + 1)), int(rng.integers(0, width - row_width + 1))
    page = photo_synth.blank_page(height, width, cases, rng, top=top, left=left, high=row_height, size=size)
    alpha, boxes = np.zeros((height, width)), []
    for digit, (x, y, own) in zip(digits, places):
        ink = photo_synth.ink_alpha(digit, own, pen, rng)
        y, x = top + y, left + x
        np.maximum(alpha[y:y + own, x:x + own], ink, out=alpha[y:y + own, x:x + own])
        darkest = float(ink.max())
        seen = 0.25 if darkest > 0.25 else 0.5 * darkest  # a pen fainter than that: half its darkest
        rows, cols = np.flatnonzero(ink.max(axis=1) > seen), np.flatnonzero(ink.max(axis=0) > seen)
        boxes.append((x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1))
    return photo_synth.finish_photo(page, alpha, cases, pen, rng, rgb=rgb, noise=noise), boxes


def number_set(digits: np.ndarray, labels: np.ndarray, lengths: Sequence[int], seed: int, cases=None,
               rgb_every: int = 3, gap: tuple[float, float] | None = None) -> list[tuple[Image.Image, str, list]]:
    """(photo, number, boxes) for each length in `lengths`, its digits drawn at random from
    `digits`; `cases=None` draws photo_synth.random_cases per photo. Every `rgb_every`-th is RGB.
    `gap`: the range of the gaps between neighbours' ink (default GAP)."""
    rng = np.random.default_rng(seed)
    numbers = []
    for index, length in enumerate(lengths):
        chosen = rng.choice(len(digits), int(length), replace=False)
        photo_cases = photo_synth.random_cases(rng) if cases is None else tuple(cases)
        photo, boxes = make_number(digits[chosen], photo_cases, rng, rgb=index % rgb_every == rgb_every - 1,
                                    gap=gap)
        numbers.append((photo, "".join(str(int(labels[i])) for i in chosen), boxes))
    return numbers
