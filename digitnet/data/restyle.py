"""Digits in other handwriting styles: MNIST digits slanted, turned, narrowed or widened, in thinner or thicker pens.

A stand-in for writers outside MNIST that calibration can be fitted on
without touching any held-back set: each digit is enlarged three times,
its pen made thinner or thicker (a 3x3 or 5x5 window minimum or maximum,
or left as it is), and its shape changed by an affine map (rotation up to
22 degrees, shear up to 0.4, width 70-125 % of the height's scale); then it
is ready to be read through preprocess.to_mnist, as `predict` would read a scan of it.
Seeded: the same digits and seed give the same arrays.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

ENLARGE = 3
PENS = (None, ("thin", 3), ("thick", 3), ("thick", 5))


def _affine(rng: np.random.Generator) -> np.ndarray:
    """A 2x2 shape change: rotation, shear and a change of width."""
    angle = np.radians(rng.uniform(-22, 22))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(-0.4, 0.4)], [0.0, 1.0]])
    return rotation @ shear @ np.diag([rng.uniform(0.7, 1.25), 1.0])


def restyle_one(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 digit (MNIST polarity) -> the same digit in another style, as a float image in [0, 1]."""
    size = 28 * ENLARGE
    image = Image.fromarray(np.asarray(digit, np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    pen = PENS[int(rng.integers(len(PENS)))]
    if pen is not None:
        image = image.filter(ImageFilter.MinFilter(pen[1]) if pen[0] == "thin" else ImageFilter.MaxFilter(pen[1]))
    inverse = np.linalg.inv(_affine(rng))
    centre = np.array([size / 2, size / 2])
    offset = centre - inverse @ centre  # PIL maps each output pixel to an input pixel
    image = image.transform((size, size), Image.Transform.AFFINE,
                            (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1]),
                            Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float64) / 255.0


def restyled_pictures(digits: np.ndarray, seed: int) -> list[np.ndarray]:
    """uint8 [N, 28, 28] -> each digit restyled, as float pictures [84, 84] in [0, 1]
    (preprocess.to_mnist reads them as `predict` reads a file)."""
    rng = np.random.default_rng(seed)
    return [restyle_one(digit, rng) for digit in digits]
