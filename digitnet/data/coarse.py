"""MNIST digits as a coarse scanner sees them: few pixels, few grey levels, enlarged again.

Scans of forms at low resolution (UCI's digits are 32x32 bitmaps counted in
4x4 blocks: 8x8 cells of 17 levels) have blocky strokes that MNIST's
anti-aliased 20x20 digits never show. `coarse` makes such digits from MNIST's
own: the 28x28 field box-averaged to SIZE x SIZE, each cell rounded to one of
LEVELS grey levels, and enlarged bilinearly to FIELD x FIELD in the middle of
a 28x28 field (where MNIST's digits sit). Deterministic, numpy and Pillow only;
what number reading's piece judge is trained and chosen on besides MNIST's
resolution (experiments/piece_judge.py, piece_judge_selection.py).

    from digitnet.data.coarse import coarse
    blocky = coarse(mnist_digits)        # uint8 [N, 28, 28]
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from digitnet.core.errors import DataError

SIZE, LEVELS, FIELD = 8, 17, 20


def coarse_one(digit: np.ndarray, size: int = SIZE, levels: int = LEVELS, field: int = FIELD) -> np.ndarray:
    """One uint8 28x28 digit -> its coarse version (uint8 28x28)."""
    small = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BOX), np.float64)
    steps = levels - 1
    counted = np.uint8(np.round(np.round(small / 255 * steps) * 255 / steps))
    big = np.asarray(Image.fromarray(counted).resize((field, field), Image.Resampling.BILINEAR))
    out = np.zeros((28, 28), np.uint8)
    start = (28 - field) // 2
    out[start:start + field, start:start + field] = big
    return out


def coarse(digits: np.ndarray, size: int = SIZE, levels: int = LEVELS, field: int = FIELD) -> np.ndarray:
    """uint8 digits [N, 28, 28] -> their coarse versions (uint8 [N, 28, 28])."""
    digits = np.asarray(digits)
    if digits.ndim != 3 or digits.shape[1:] != (28, 28) or digits.dtype != np.uint8:
        raise DataError(f"coarse takes uint8 digits of shape [N, 28, 28]; received {digits.dtype} "
                        f"of shape {list(digits.shape)}")
    whole = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (size, levels, field))
    if not (whole and 2 <= size <= 28 and levels >= 2 and size <= field <= 28):
        raise DataError(f"coarse needs whole numbers 2 <= size <= field <= 28 and levels >= 2; received size={size!r}, "
                        f"levels={levels!r}, field={field!r}")
    return np.stack([coarse_one(d, size, levels, field) for d in digits]) if len(digits) else digits.copy()
