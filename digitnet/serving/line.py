"""A number's row of ink as one line image, and what a line reader's outputs say about it.

A line reader (digitnet/experiments/line_reader.py) reads the whole row of a
number at once: uint8 [LINE_HEIGHT, LINE_WIDTH] -> logits [LINE_STEPS,
classes] over the blank, the digits 0-9 and, in a reader of 12 classes, ink
that is no digit, trained with CTC (digitnet/core/ctc.py).
It counts the digits of a row the way the segmenter cannot when two of them
touch, because it never has to cut them apart.

`line_input` makes the line from preprocess.ink_image's ink: the segmenter's
row of digit groups (what number reading reads; specks, ruled lines and
margins already left out), every other pixel blanked, scaled to
LINE_HEIGHT - 2 * MARGIN pixels high (or narrower, to fit LINE_WIDTH) and
set MARGIN pixels from the left (area resampling, preprocess.area_weights, as
a digit is resized), ink scaled to peak at 255. NumPy only: no TensorFlow.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from digitnet.core.ctc import MARK, greedy, log_probability
from digitnet.core.errors import DataError
from digitnet.serving import preprocess
from digitnet.serving.segment import Segmenter

LINE_HEIGHT, LINE_WIDTH, MARGIN = 32, 256, 2
LINE_SHAPE = (LINE_HEIGHT, LINE_WIDTH)
LINE_STEPS = LINE_WIDTH // 4  # a line reader's steps: one per 4 columns


def line_input(ink: np.ndarray, name: str = "image") -> np.ndarray:
    """preprocess.ink_image's ink [H, W] -> the line uint8 [LINE_HEIGHT, LINE_WIDTH] of its row of digits.
    Raises DataError when the segmenter finds no row of digits in it."""
    return line_of(Segmenter(ink, name, None))


def line_of(segmenter: Segmenter) -> np.ndarray:
    """line_input of a segmenter's ink (the row it reads: one segmenter serves the reading and its line)."""
    ink, name = segmenter.ink, segmenter.name
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
    small = preprocess.area_weights(crop.shape[0], height) @ crop @ preprocess.area_weights(crop.shape[1], width).T
    line = np.zeros(LINE_SHAPE, np.float32)
    top = (LINE_HEIGHT - height) // 2
    line[top:top + height, MARGIN:MARGIN + width] = small
    peak = line.max()
    return np.round(np.clip(line / peak if peak > 0 else line, 0, 1) * 255).astype(np.uint8)


# How a line reader's count may change the segmenter's reading (reports/number_reading.md, "The line
# reader"): "count" reads the row again with the line reader's count of digits wherever the two counts
# differ; "likelier" keeps that reading only where the line reader finds it likelier than the first;
# "likelier-2" is "likelier" only where the segmenter reads two or more digits (a row it reads as one
# digit or none, a lone letter among them, keeps its reading); "spelled" is "likelier", then, where
# the line reader's best path reads digits only and another number, the segmenter's best reading of
# that number (Segmenter.counted_path's spelling), kept only where the line reader finds it likelier.
RECOUNT_RULES = ("count", "likelier", "likelier-2", "spelled")
RECOUNT = "spelled"  # the rule reading.read and the page (line.js) follow where LINE_READER_FILE exists
LINE_READER_FILE = Path(__file__).with_name("line_reader.tflite")  # experiments/line_reader.py writes it


def number_of(digits) -> str:
    """The number a reading's digits (objects with .probabilities) make."""
    return "".join(str(int(np.argmax(digit.probabilities))) for digit in digits)


def recount(digits: list, logits: np.ndarray, read_count, rule: str = "count") -> list:
    """The segmenter's `digits`, or read_count(K) (its reading with exactly K digits, None when it
    has none) where the line reader's best path (`logits` [steps, classes] of the row's line) reads K >= 1
    digits and `digits` are not K, as `rule` (RECOUNT_RULES) allows; "spelled" also calls
    read_count(K, spelling) (its reading of the K digits spelled, None when it has none)."""
    if rule not in RECOUNT_RULES:
        raise ValueError(f"rule must be one of {', '.join(RECOUNT_RULES)}; received {rule!r}")
    if rule == "spelled":
        return spelled(recount(digits, logits, read_count, "likelier"), logits, read_count)
    count = len(greedy(logits))
    if count == 0 or count == len(digits) or (rule == "likelier-2" and len(digits) < 2):
        return digits
    other = read_count(count)
    if other is None:
        return digits
    if rule != "count" and log_probability(logits, number_of(other)) <= log_probability(logits, number_of(digits)):
        return digits
    return other


def spelled(digits: list, logits: np.ndarray, read_count) -> list:
    """recount's last step of "spelled": `digits`, or the segmenter's reading of the number the line
    reader's best path reads, where that path reads digits only, another number, and that reading
    (read_count(K, spelling)) is likelier under the line reader than `digits`."""
    spelling = greedy(logits)
    if not spelling or MARK in spelling or spelling == number_of(digits):
        return digits
    other = read_count(len(spelling), spelling)
    if other is None or log_probability(logits, number_of(other)) <= log_probability(logits, number_of(digits)):
        return digits
    return other
