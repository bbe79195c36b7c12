"""Turn a photo or scan of a digit into a 28x28 MNIST-style image.

MNIST was made this way (LeCun et al.): the digit, white on black, is
cropped to its bounding box, scaled so that its longer side is 20 pixels
(keeping the aspect ratio, with anti-aliasing), and placed in a 28x28 field
so that its centre of mass sits at the centre. Users' own digits need the
same treatment or the models see something they were never trained on.

The exact steps are written down once, in export/web/PREPROCESSING.md; the
web demo (export/web/src/preprocess.js) implements the same steps in
JavaScript, and a test checks that both give the same 28x28 array. Hence
plain float arithmetic and round-half-up everywhere, nothing library-specific.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from digitnet.errors import DataError

MAX_PIXELS = 40_000_000  # refuse absurd images before decoding them
DIGIT_BOX = 20
FIELD = 28
INK_THRESHOLD = 0.1  # of the full grey range: what counts as ink when cropping


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file (PNG, JPEG, ...; any size, colour or grey) as float grey [H, W] in [0, 1]."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise DataError(f"{path}: image of {image.width}x{image.height} pixels is too large "
                                f"(at most {MAX_PIXELS:,} pixels)")
            if image.width == 0 or image.height == 0:
                raise DataError(f"{path}: the image is empty ({image.width}x{image.height})")
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # Transparent pixels are background: flatten onto white.
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, image.convert("RGBA"))
            grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file that Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise DataError(f"{path}: image is too large ({error})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the image ({error})") from None
    return grey


def round_half_up(values):
    """JavaScript's Math.round (Python's round() rounds half to even)."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5)


def area_weights(source: int, target: int) -> np.ndarray:
    """[target, source] matrix: each target pixel averages the source pixels
    its footprint covers, weighted by the covered fraction (area resampling)."""
    weights = np.zeros((target, source))
    ratio = source / target
    for out in range(target):
        start, end = out * ratio, (out + 1) * ratio
        for index in range(int(np.floor(start)), min(int(np.ceil(end)), source)):
            weights[out, index] = (min(end, index + 1) - max(start, index)) / ratio
    return weights


def to_mnist(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """float grey [H, W] in [0, 1] (either polarity) -> uint8 [28, 28], white digit on black."""
    if grey.ndim != 2 or grey.size == 0:
        raise DataError(f"{name}: expected a non-empty 2-D grey image, received shape {grey.shape}")
    # Light background (the border is mostly bright): invert to MNIST's white-on-black.
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    grey = grey.astype(np.float64)
    ink = 1.0 - grey if np.median(border) > 0.5 else grey.copy()
    ink = ink - ink.min()
    if ink.max() < INK_THRESHOLD:
        raise DataError(f"{name}: no digit found (the image is blank, contrast {ink.max():.2f})")
    ink /= ink.max()
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    digit = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float64)
    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    new_height = max(1, int(round_half_up(height * scale)))
    new_width = max(1, int(round_half_up(width * scale)))
    resized = area_weights(height, new_height) @ digit @ area_weights(width, new_width).T
    resized = np.clip(resized, 0.0, 1.0)
    total = resized.sum()
    ys, xs = np.indices(resized.shape)
    centre_y, centre_x = (ys * resized).sum() / total, (xs * resized).sum() / total
    # Shift so the centre of mass lands on pixel (14, 14), where MNIST's digits
    # have theirs (measured: mean 13.99, 14.00 over the test set); clamped inside.
    top = int(round_half_up(FIELD / 2 - centre_y))
    left = int(round_half_up(FIELD / 2 - centre_x))
    top = min(max(top, 0), FIELD - resized.shape[0])
    left = min(max(left, 0), FIELD - resized.shape[1])
    field = np.zeros((FIELD, FIELD))
    field[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return round_half_up(field * 255).astype(np.uint8)


def prepare_file(path: str | os.PathLike) -> np.ndarray:
    return to_mnist(load_image(path), name=str(path))
