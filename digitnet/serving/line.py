"""A number's row of ink as one line image, and what a line reader's outputs say about it.

A line reader (digitnet/experiments/line_reader.py) reads the whole row of a
number at once: uint8 [LINE_HEIGHT, LINE_WIDTH] -> logits [steps, 11] over
the blank and the digits 0-9, trained with CTC (digitnet/core/ctc.py).
It counts the digits of a row the way the segmenter cannot when two of them
touch, because it never has to cut them apart.

`line_input` makes the line from preprocess.ink_image's ink: the segmenter's
row of digit groups (what number reading reads; specks, ruled lines and
margins already left out), every other pixel blanked, scaled to
LINE_HEIGHT - 2 * MARGIN pixels high (or narrower, to fit LINE_WIDTH) and
set MARGIN pixels from the left, ink scaled to peak at 255. NumPy and Pillow
only: no TensorFlow.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from digitnet.core.errors import DataError
from digitnet.serving import preprocess
from digitnet.serving.segment import Segmenter

LINE_HEIGHT, LINE_WIDTH, MARGIN = 32, 256, 2
LINE_SHAPE = (LINE_HEIGHT, LINE_WIDTH)


def line_input(ink: np.ndarray, name: str = "image") -> np.ndarray:
    """preprocess.ink_image's ink [H, W] -> the line uint8 [LINE_HEIGHT, LINE_WIDTH] of its row of digits.
    Raises DataError when the segmenter finds no row of digits in it."""
    segmenter = Segmenter(ink, name, None)
    groups, _ = segmenter.row(segmenter.strokes_joined())
    if not groups:
        raise DataError(f"{name}: no row of digits found")
    cells = np.isin(segmenter.labels, [label for group in groups for label in group])
    keep = segmenter.pixels(preprocess.window(cells.astype(np.int8), 1, np.maximum).astype(bool))
    ys, xs = np.nonzero(keep)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.where(keep[top:bottom, left:right], ink[top:bottom, left:right], 0.0).astype(np.float32)
    room = LINE_WIDTH - 2 * MARGIN
    scale = min((LINE_HEIGHT - 2 * MARGIN) / crop.shape[0], room / crop.shape[1])
    width = min(room, max(1, int(round(crop.shape[1] * scale))))
    height = max(1, int(round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray(crop, "F").resize((width, height), Image.BILINEAR))
    line = np.zeros(LINE_SHAPE, np.float32)
    top = (LINE_HEIGHT - height) // 2
    line[top:top + height, MARGIN:MARGIN + width] = small
    peak = line.max()
    return np.round(np.clip(line / peak if peak > 0 else line, 0, 1) * 255).astype(np.uint8)

