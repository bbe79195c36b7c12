"""CTC's arithmetic for line readers (digitnet/serving/line.py), in NumPy.

A line reader outputs logits [steps, CLASSES] per line: class BLANK, the
digits 0-9 as classes 1-10 and, where it has CLASSES (12) of them, class
NOT_A_DIGIT for a place whose ink is no digit, written MARK. A line's label
is int8 [MAX_DIGITS]: each place's class, then BLANK. A reader of
DIGIT_CLASSES (11, digits only) never reads MARK.
"""
from __future__ import annotations

import numpy as np

from digitnet.core.errors import DataError

BLANK = 0
DIGIT_CLASSES = 11  # a reader of digits only: the blank and 0-9
NOT_A_DIGIT, MARK = DIGIT_CLASSES, "?"  # MARK: piece_judge.NOT_A_DIGIT_MARK, the place of ink that is no digit
CLASSES = DIGIT_CLASSES + 1
MAX_DIGITS = 8


def class_of(place: str) -> int:
    return NOT_A_DIGIT if place == MARK else int(place) + 1


def place_of(k: int) -> str:
    return MARK if k == NOT_A_DIGIT else str(int(k) - 1)


def encode(number: str) -> np.ndarray:
    """'2026' (or '20?6') -> int8 [MAX_DIGITS]: each place's class, then BLANK."""
    if not (0 < len(number) <= MAX_DIGITS and all(place.isdigit() or place == MARK for place in number)):
        raise DataError(f"a line's label is 1 to {MAX_DIGITS} places, digits 0-9 or {MARK!r}, received {number!r}")
    label = np.full(MAX_DIGITS, BLANK, np.int8)
    label[:len(number)] = [class_of(place) for place in number]
    return label


def decode(label: np.ndarray) -> str:
    """encode's inverse."""
    return "".join(place_of(k) for k in label if k != BLANK)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def greedy(logits: np.ndarray) -> str:
    """The best path's reading of one line's logits [steps, classes]: repeats merged, blanks dropped."""
    best = np.argmax(logits, axis=-1)
    kept = best[(best != BLANK) & np.concatenate([[True], best[1:] != best[:-1]])]
    return "".join(place_of(k) for k in kept)


def log_probability(logits: np.ndarray, number: str) -> float:
    """log P(number | line) of one line's logits [steps, classes] under CTC: the sum over every path
    that reads `number` (the forward algorithm, in log space); -inf when no path of that many
    steps can read it."""
    log_p = log_softmax(np.asarray(logits, np.float64))
    labels = [BLANK]
    for place in number:
        labels += [class_of(place), BLANK]
    states = len(labels)
    alpha = np.full(states, -np.inf)
    alpha[0] = log_p[0, BLANK]
    if states > 1:
        alpha[1] = log_p[0, labels[1]]
    # A state may be reached from itself, from the one before, and (a digit not repeating the
    # digit two states back) over the blank between them.
    skip = np.array([s >= 2 and labels[s] != BLANK and labels[s] != labels[s - 2] for s in range(states)])
    for step in range(1, len(log_p)):
        before = np.concatenate([[-np.inf], alpha[:-1]])
        two_before = np.where(skip, np.concatenate([[-np.inf, -np.inf], alpha[:-2]])[:states], -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, before), two_before) + log_p[step, labels]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if states > 1 else alpha[-1])
