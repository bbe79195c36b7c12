"""Ink that is not a digit, drawn in code: what `predict` should answer "not a digit" to.

Six kinds (KINDS), each drawn as pen strokes on a square canvas and then
normalised the way MNIST's digits are (longer side 20 pixels, centre of mass
at the centre of a 28x28 field, white on black), so that a negative can go
wherever an MNIST digit goes, photo_synth.make_photo included:

- "letter": capitals written as strokes (A C E F H K M N R V W X Y), the
  letters that a digit reader is most often pointed at and that resemble no
  digit outright (no O, I, S, Z, B, G, which are 0, 1, 5, 2, 8, 6 in
  many hands);
- "symbol": + - = ? # @ %;
- "scribble": a pen wandering back and forth, looping or zig-zagging;
- "shape": boxes, triangles, stars and circles with something inside or
  across (a bar, a cross, a dot, a second ring). A plain ring is left out:
  a round 0 is one, and "0" is the right reading of it;
- "crossed_out": a digit struck through by an X or by hatching;
- "overlaid": two different digits written on top of each other, each
  adding much ink of its own (a 1 inside a 4 would still read as a 4).

Nothing is rendered from a font or taken from another data set, so that any
held-back set of real letters or symbols stays independent of what a "not
a digit" judge is fitted on. Every stroke is jittered (an affine change of
shape, a slow wobble along its length, its own pen width), and the whole is
seeded: the same seed, count, kinds and digits give the same arrays.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from digitnet.serving.preprocess import to_field

KINDS = ("letter", "symbol", "scribble", "shape", "crossed_out", "overlaid")
DIGIT_KINDS = ("crossed_out", "overlaid")  # the kinds drawn over MNIST digits
CANVAS = 64  # pixels on a side where strokes are drawn; the drawing fills about 44 of them
SPAN = 44
PEN = (4.5, 9.5)  # pen widths on the canvas: MNIST's strokes of 2-4.2 field pixels, scaled by SPAN / 20
INK_FLOOR = 0.05  # canvas ink below this is no part of the drawing's box

Stroke = np.ndarray  # [points, 2] of (x, y) in the unit square, y pointing down


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 24) -> Stroke:
    """An elliptic arc from angle `start` to `end` (degrees, counter-clockwise as seen, 0 = right)."""
    angles = np.radians(np.linspace(start, end, points))
    return np.stack([cx + rx * np.cos(angles), cy - ry * np.sin(angles)], axis=1)


def line(*points: tuple[float, float]) -> Stroke:
    return np.asarray(points, dtype=np.float64)


def _dot(x: float, y: float) -> Stroke:
    return line((x, y), (x + 0.01, y + 0.01))


LETTERS: dict[str, list[Stroke]] = {
    "A": [line((0, 1), (0.5, 0), (1, 1)), line((0.22, 0.6), (0.78, 0.6))],
    "C": [arc(0.55, 0.5, 0.45, 0.5, 45, 315)],
    "E": [line((0.9, 0), (0, 0), (0, 1), (0.9, 1)), line((0, 0.5), (0.7, 0.5))],
    "F": [line((0.9, 0), (0, 0), (0, 1)), line((0, 0.48), (0.7, 0.48))],
    "H": [line((0, 0), (0, 1)), line((0.8, 0), (0.8, 1)), line((0, 0.5), (0.8, 0.5))],
    "K": [line((0, 0), (0, 1)), line((0.85, 0), (0, 0.6)), line((0.3, 0.4), (0.9, 1))],
    "M": [line((0, 1), (0.08, 0), (0.5, 0.65), (0.92, 0), (1, 1))],
    "N": [line((0, 1), (0, 0), (0.8, 1), (0.8, 0))],
    "R": [np.concatenate([line((0, 1), (0, 0), (0.45, 0)), arc(0.45, 0.25, 0.3, 0.25, 90, -90, 12),
                          line((0.45, 0.5), (0, 0.5))]), line((0.3, 0.5), (0.85, 1))],
    "V": [line((0, 0), (0.45, 1), (0.9, 0))],
    "W": [line((0, 0), (0.22, 1), (0.5, 0.35), (0.78, 1), (1, 0))],
    "X": [line((0, 0), (0.85, 1)), line((0.85, 0), (0, 1))],
    "Y": [line((0, 0), (0.45, 0.5), (0.9, 0)), line((0.45, 0.5), (0.45, 1))],
}

SYMBOLS: dict[str, list[Stroke]] = {
    "+": [line((0.5, 0.05), (0.5, 0.95)), line((0.05, 0.5), (0.95, 0.5))],
    "-": [line((0.0, 0.5), (1.0, 0.5))],
    "=": [line((0.0, 0.35), (1.0, 0.35)), line((0.0, 0.65), (1.0, 0.65))],
    "?": [np.concatenate([arc(0.5, 0.27, 0.3, 0.25, 160, -60, 16), line((0.5, 0.62), (0.5, 0.72))]),
          _dot(0.5, 0.95)],
    "#": [line((0.35, 0), (0.25, 1)), line((0.75, 0), (0.65, 1)), line((0, 0.33), (1, 0.33)),
          line((0, 0.67), (1, 0.67))],
    "@": [np.concatenate([arc(0.5, 0.5, 0.2, 0.22, 0, 360, 20), line((0.7, 0.3), (0.72, 0.62)),
                          arc(0.5, 0.5, 0.5, 0.5, -30, 300, 36)])],
    "%": [line((0.9, 0), (0.1, 1)), arc(0.2, 0.2, 0.17, 0.18, 0, 360, 16), arc(0.8, 0.8, 0.17, 0.18, 0, 360, 16)],
}


def _ring() -> Stroke:
    return arc(0.5, 0.5, 0.5, 0.5, 90, 450, 32)


SHAPES: dict[str, list[Stroke]] = {
    "box": [line((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))],
    "box_diagonal": [line((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)), line((0, 0), (1, 1))],
    "triangle": [line((0.5, 0), (1, 0.9), (0, 0.9), (0.5, 0))],
    "triangle_down": [line((0, 0.1), (1, 0.1), (0.5, 1), (0, 0.1))],
    "star": [line(*[(0.5 + 0.5 * np.sin(np.radians(a)), 0.5 - 0.5 * np.cos(np.radians(a)))
                    for a in (0, 144, 288, 72, 216, 0)])],
    "ring_bar": [_ring(), line((-0.15, 0.5), (1.15, 0.5))],
    "ring_cross": [_ring(), line((0.5, 0), (0.5, 1)), line((0, 0.5), (1, 0.5))],
    "ring_dot": [_ring(), _dot(0.5, 0.5), _dot(0.5, 0.5)],
    "rings": [_ring(), arc(0.5, 0.5, 0.25, 0.25, 90, 450, 20)],
}


@dataclasses.dataclass(frozen=True)
class Negatives:
    """uint8 images [N, 28, 28] (MNIST polarity and placement) and each one's kind."""

    images: np.ndarray
    kinds: np.ndarray  # str [N], one of KINDS


def draw(strokes: Sequence[np.ndarray], width: float, canvas: int = CANVAS) -> np.ndarray:
    """Polylines in canvas pixels -> ink [canvas, canvas] in [0, 1]: each pixel's
    cover by a round pen of `width`, anti-aliased over one pixel."""
    ink = np.zeros((canvas, canvas))
    reach = width / 2 + 1
    for stroke in strokes:
        for start, end in zip(stroke[:-1], stroke[1:]):
            low = np.maximum(np.floor(np.minimum(start, end) - reach), 0).astype(int)
            high = np.minimum(np.ceil(np.maximum(start, end) + reach) + 1, canvas).astype(int)
            if np.any(high <= low):
                continue
            ys, xs = np.mgrid[low[1]:high[1], low[0]:high[0]] + 0.5
            direction = end - start
            length = max(float(direction @ direction), 1e-12)
            along = np.clip(((xs - start[0]) * direction[0] + (ys - start[1]) * direction[1]) / length, 0, 1)
            distance = np.hypot(xs - start[0] - along * direction[0], ys - start[1] - along * direction[1])
            cover = np.clip(width / 2 - distance + 0.5, 0.0, 1.0)
            region = ink[low[1]:high[1], low[0]:high[0]]
            np.maximum(region, cover, out=region)
    return ink


def _wobble(stroke: Stroke, rng: np.random.Generator, amount: float) -> Stroke:
    """The stroke resampled finely and bent by a slow random displacement (a hand's unsteadiness)."""
    steps = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    position = np.concatenate([[0.0], np.cumsum(steps)])
    if position[-1] <= 0:
        return stroke
    samples = np.linspace(0, position[-1], max(2, int(position[-1] * 16) + 2))
    fine = np.stack([np.interp(samples, position, stroke[:, axis]) for axis in range(2)], axis=1)
    phase = rng.uniform(0, 2 * np.pi, (2, 2))
    frequency = rng.uniform(0.5, 2.0, (2, 2))
    t = samples[:, None] * 2 * np.pi
    bend = sum(np.sin(frequency[k] * t + phase[k]) for k in range(2)) / 2
    return fine + amount * bend


def _shape_change(rng: np.random.Generator) -> np.ndarray:
    """A 2x2 matrix: rotation of up to 18 degrees, shear up to 0.3, aspect 0.65-1.4."""
    angle = np.radians(rng.uniform(-18, 18))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(-0.3, 0.3)], [0.0, 1.0]])
    aspect = np.exp(rng.uniform(np.log(0.65), np.log(1.4)))
    return rotation @ shear @ np.diag([aspect, 1.0])


def _place(strokes: Sequence[Stroke], rng: np.random.Generator, wobble: float = 0.025) -> list[Stroke]:
    """Unit-square strokes -> canvas pixels: jittered, bent, scaled so the drawing spans SPAN, centred."""
    matrix = _shape_change(rng)
    moved = [_wobble(s + rng.normal(0, 0.02, s.shape), rng, wobble) @ matrix.T for s in strokes]
    points = np.concatenate(moved)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = SPAN / max(float((high - low).max()), 1e-6)
    centre = (low + high) / 2
    return [(s - centre) * scale + CANVAS / 2 for s in moved]


def _pen(rng: np.random.Generator) -> float:
    return float(rng.uniform(*PEN))


def _letter(rng: np.random.Generator) -> np.ndarray:
    name = sorted(LETTERS)[int(rng.integers(len(LETTERS)))]
    return draw(_place(LETTERS[name], rng), _pen(rng))


def _symbol(rng: np.random.Generator) -> np.ndarray:
    name = sorted(SYMBOLS)[int(rng.integers(len(SYMBOLS)))]
    strokes = _place(SYMBOLS[name], rng)
    if name in ("-", "="):  # a bar is drawn at its own size, not stretched to a digit's height
        strokes = [(s - CANVAS / 2) * np.array([1.0, rng.uniform(0.3, 1.0)]) + CANVAS / 2 for s in strokes]
    return draw(strokes, _pen(rng))


def _scribble(rng: np.random.Generator) -> np.ndarray:
    """A zig-zag back and forth, a run of loops, or a random walk with many turns."""
    style = int(rng.integers(3))
    if style == 0:  # zig-zag hatching
        turns = int(rng.integers(5, 10))
        ys = np.linspace(0, 1, turns)
        xs = np.where(np.arange(turns) % 2 == 0, rng.uniform(0, 0.2, turns), rng.uniform(0.8, 1.0, turns))
        stroke = np.stack([xs, ys], axis=1)
    elif style == 1:  # loops along a line, as in cursive "eeee"
        loops = int(rng.integers(3, 6))
        t = np.linspace(0, loops * 2 * np.pi, loops * 16)
        radius = rng.uniform(0.25, 0.45)
        stroke = np.stack([t / t[-1] + radius * 0.4 * np.cos(t), 0.5 + radius * np.sin(t)], axis=1)
    else:  # a random walk that keeps turning
        points = int(rng.integers(8, 15))
        stroke = rng.uniform(0, 1, (points, 2))
    return draw(_place([stroke], rng, wobble=0.01), _pen(rng) * rng.uniform(0.7, 1.0))


def _shape(rng: np.random.Generator) -> np.ndarray:
    name = sorted(SHAPES)[int(rng.integers(len(SHAPES)))]
    return draw(_place(SHAPES[name], rng, wobble=0.015), _pen(rng))


def _digit_canvas(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit (28x28, its box 20 pixels) enlarged onto the canvas, box SPAN pixels, as ink in [0, 1]."""
    from PIL import Image

    size = int(round(28 * SPAN / 20))
    big = np.asarray(Image.fromarray(np.asarray(digit, np.uint8)).resize((size, size), Image.Resampling.BILINEAR))
    ink = np.zeros((CANVAS, CANVAS))
    offset = (CANVAS - size) // 2
    ink[offset:offset + size, offset:offset + size] = big / 255.0
    return ink


def _crossed_out(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit with an X over it, or 3-6 hatching strokes across it."""
    if rng.random() < 0.5:
        strike = [line((0, 0), (1, 1)), line((1, 0), (0, 1))]
    else:
        count = int(rng.integers(3, 7))
        tops = np.linspace(0, 1, count)
        strike = [np.stack([np.where(np.arange(count) % 2 == 0, 0.0, 1.0), tops], axis=1)]
    strokes = _place(strike, rng, wobble=0.01)
    strokes = [(s - CANVAS / 2) * rng.uniform(0.9, 1.15) + CANVAS / 2 for s in strokes]
    return np.maximum(_digit_canvas(digit), draw(strokes, _pen(rng)))


OVERLAP_NEW_INK = 0.4  # each of two overlaid digits adds at least 40 % of the other's ink


def _overlaid(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Two digits on top of each other, the second shifted by up to 3 field pixels; None when
    one of them adds too little ink of its own (it would hide inside the other)."""
    from PIL import Image

    shift = rng.uniform(-3, 3, 2)
    moved = Image.fromarray(np.asarray(second, np.uint8)).transform(
        (28, 28), Image.Transform.AFFINE, (1, 0, -shift[0], 0, 1, -shift[1]), Image.Resampling.BILINEAR)
    a, b = first / 255.0, np.asarray(moved) / 255.0
    union = np.maximum(a, b)
    if min(union.sum() - a.sum(), union.sum() - b.sum()) < OVERLAP_NEW_INK * min(a.sum(), b.sum()):
        return None
    return _digit_canvas(np.uint8(np.round(union * 255)))


def to_mnist_field(ink: np.ndarray) -> np.ndarray:
    """Canvas ink -> uint8 [28, 28] placed as MNIST's digits are (preprocess.to_field)."""
    rows, cols = np.flatnonzero((ink > INK_FLOOR).any(axis=1)), np.flatnonzero((ink > INK_FLOOR).any(axis=0))
    return to_field(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])


def _check(count: int, kinds: Sequence[str], digits: np.ndarray | None, labels: np.ndarray | None) -> None:
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be an integer >= 0, received {count!r}")
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty selection of {', '.join(KINDS)}; received {list(kinds)}")
    if any(kind in DIGIT_KINDS for kind in kinds):
        if digits is None or labels is None or len(digits) != len(labels) or len(np.unique(labels)) < 2:
            raise ValueError(f"the kinds {', '.join(DIGIT_KINDS)} need MNIST digits and their labels "
                             f"(at least two different digits); received "
                             f"{None if digits is None else np.shape(digits)} digits")


def generate(count: int, seed: int, kinds: Sequence[str] = KINDS, digits: np.ndarray | None = None,
             labels: np.ndarray | None = None) -> Negatives:
    """`count` negatives, the kinds taking turns in the order given. "crossed_out" and
    "overlaid" draw their digits (uint8 [N, 28, 28]) from `digits`: pass digits of the split
    the negatives are for (training digits to fit, test digits to measure)."""
    kinds = tuple(kinds)
    _check(count, kinds, digits, labels)
    rng = np.random.default_rng(seed)
    makers = {"letter": _letter, "symbol": _symbol, "scribble": _scribble, "shape": _shape}
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for index in range(count):
        kind = kinds[index % len(kinds)]
        if kind == "crossed_out":
            ink = _crossed_out(digits[int(rng.integers(len(digits)))], rng)
        elif kind == "overlaid":
            ink = None
            while ink is None:
                first, second = rng.integers(len(digits), size=2)
                if labels[first] != labels[second]:
                    ink = _overlaid(digits[first], digits[second], rng)
        else:
            ink = makers[kind](rng)
        images[index] = to_mnist_field(ink)
    return Negatives(images, np.array([kinds[i % len(kinds)] for i in range(count)]))
