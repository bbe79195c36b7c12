"""A measuring set of digits written in other hands, drawn from pen trajectories.

Each digit is drawn whole, as a pen would write it: strokes through points
placed by hand in a unit box (x to the right, y downwards), one set of strokes
per style (the continental 1 with its up-stroke and sometimes a foot, the bare
1, the crossed 7, the crossed Z-like 2, the open and the closed 4, the 9 with
a curved, hooked or straight tail, the flat-topped 3, ...). Every sample
jitters the points, slants, narrows or widens, turns and sizes the digit,
picks a pen from a fine one to a marker, and draws it dark on light paper at
a random place on a page, as a user would hand over a scan: the pages go
through digitnet.predict's own preparation.

It shares nothing with the training generator (styles.py edits MNIST's digits
in TensorFlow): no MNIST image, another code path (NumPy and Pillow), other
parameters. It only measures: nothing here is trained on or selected with.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from digitnet.core.errors import ConfigError

Stroke = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 24) -> Stroke:
    """Points of an elliptic arc from angle `start` to `end` (degrees; 0 is to the right,
    90 at the top, increasing counter-clockwise on the page)."""
    angles = np.radians(np.linspace(start, end, points))
    return [(cx + rx * math.cos(a), cy - ry * math.sin(a)) for a in angles]


def _oval(cx: float, cy: float, rx: float, ry: float) -> Stroke:
    return arc(cx, cy, rx, ry, 90, 450, 36)


_NINE_LOOP = _oval(0.5, 0.3, 0.32, 0.28)
_ROUND_TWO = arc(0.5, 0.28, 0.34, 0.26, 160, -40) + [(0.12, 1.0), (0.9, 1.0)]
_SEVEN = [(0.1, 0.04), (0.9, 0.04), (0.4, 1.0)]
_SEVEN_BAR = [(0.36, 0.52), (0.82, 0.52)]

# Strokes of each style of each digit, in a unit box.
STYLES: dict[int, dict[str, list[Stroke]]] = {
    0: {"oval": [_oval(0.5, 0.5, 0.36, 0.48)],
        "leaning oval": [arc(0.5, 0.5, 0.34, 0.48, 70, 440, 36)]},
    1: {"continental": [[(0.22, 0.34), (0.62, 0.0), (0.55, 1.0)]],
        "continental with foot": [[(0.22, 0.34), (0.62, 0.0), (0.55, 1.0)], [(0.3, 1.0), (0.8, 1.0)]],
        "bare stroke": [[(0.56, 0.0), (0.46, 1.0)]]},
    2: {"crossed Z": [[(0.12, 0.04), (0.86, 0.04), (0.14, 1.0), (0.9, 1.0)], [(0.28, 0.52), (0.72, 0.52)]],
        "round": [_ROUND_TWO],
        "round crossed": [_ROUND_TWO, [(0.3, 0.6), (0.7, 0.6)]]},
    3: {"round": [arc(0.5, 0.26, 0.32, 0.24, 150, -90) + arc(0.5, 0.74, 0.36, 0.26, 90, -150)],
        "flat top": [[(0.15, 0.02), (0.85, 0.02), (0.42, 0.42)] + arc(0.5, 0.7, 0.36, 0.28, 110, -150)]},
    4: {"open": [[(0.22, 0.0), (0.14, 0.6), (0.92, 0.6)], [(0.7, 0.12), (0.7, 1.0)]],
        "open curved": [[(0.18, 0.0), (0.15, 0.42), (0.3, 0.6), (0.92, 0.6)], [(0.72, 0.0), (0.7, 1.0)]],
        "closed": [[(0.72, 1.0), (0.72, 0.0), (0.1, 0.66), (0.94, 0.66)]]},
    5: {"standard": [[(0.82, 0.02), (0.26, 0.02), (0.2, 0.46)] + arc(0.47, 0.7, 0.36, 0.29, 150, -160)],
        "round belly": [[(0.25, 0.02), (0.2, 0.44)] + arc(0.5, 0.7, 0.34, 0.3, 145, -165),
                        [(0.25, 0.02), (0.85, 0.02)]]},
    6: {"standard": [[(0.75, 0.02), (0.45, 0.15), (0.25, 0.4), (0.18, 0.72)] + arc(0.5, 0.72, 0.32, 0.27, 180, -180)]},
    7: {"crossed": [_SEVEN, _SEVEN_BAR],
        "crossed with a hooked top": [[(0.1, 0.18)] + _SEVEN, _SEVEN_BAR],
        "plain": [_SEVEN]},
    8: {"two loops": [_oval(0.5, 0.26, 0.28, 0.24), _oval(0.5, 0.74, 0.34, 0.26)]},
    9: {"curved tail": [_NINE_LOOP, [(0.82, 0.3), (0.8, 0.65), (0.7, 0.9), (0.5, 1.0), (0.3, 0.95)]],
        "hooked tail": [_NINE_LOOP, [(0.82, 0.3), (0.8, 0.92), (0.66, 1.0), (0.52, 0.9)]],
        "straight tail": [_NINE_LOOP, [(0.82, 0.3), (0.76, 1.0)]]},
}


def place(strokes: list[Stroke], rng: np.random.Generator) -> list[np.ndarray]:
    """The strokes jittered, slanted (up to 25 degrees), narrowed or widened (x0.6-1.5)
    and turned (up to 8 degrees) about the box's centre: [points, 2] arrays."""
    slant = math.tan(math.radians(rng.uniform(-25, 25)))
    width = rng.uniform(0.6, 1.5)
    turn = math.radians(rng.uniform(-8, 8))
    cos, sin = math.cos(turn), math.sin(turn)
    placed = []
    for stroke in strokes:
        points = np.asarray(stroke, np.float64) + rng.normal(0, 0.025, (len(stroke), 2))
        x, y = (points[:, 0] - 0.5) * width + slant * (0.5 - points[:, 1]), points[:, 1] - 0.5
        placed.append(np.stack([cos * x + sin * y, -sin * x + cos * y], axis=1))
    return placed


def draw_page(strokes: list[np.ndarray], rng: np.random.Generator) -> Image.Image:
    """A greyscale page: the strokes (centred coordinates, digit height 1) drawn with a pen
    4-20 % of the digit's height wide, dark ink on light paper, at a random place."""
    height = rng.uniform(60, 140)
    pen = max(1, int(round(height * rng.uniform(0.04, 0.2))))
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = pen + 4
    size = np.ceil((high - low) * height).astype(int) + 2 * margin
    width, page_height = int(size[0] + rng.integers(20, 160)), int(size[1] + rng.integers(20, 160))
    offset = np.array([rng.integers(0, width - size[0] + 1), rng.integers(0, page_height - size[1] + 1)]) + margin
    paper, ink = int(rng.integers(200, 256)), int(rng.integers(0, 70))
    page = Image.new("L", (width, page_height), paper)
    draw = ImageDraw.Draw(page)
    for stroke in strokes:
        pixels = [tuple(p) for p in ((stroke - low) * height + offset)]
        draw.line(pixels, fill=ink, width=pen, joint="curve")
        for x, y in (pixels[0], pixels[-1]):  # round pen ends
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=ink)
    return page.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))


def measuring_set(count: int, seed: int = 0) -> tuple[list[Image.Image], np.ndarray, list[str]]:
    """(pages, labels, style names): `count` digits, the labels cycling 0-9, each
    in a style of its digit drawn at random, all from `seed`."""
    if count < 1:
        raise ConfigError(f"the measuring set needs at least 1 digit, got {count!r}")
    rng = np.random.default_rng(seed)
    pages, labels, names = [], [], []
    for index in range(count):
        digit = index % 10
        name = list(STYLES[digit])[int(rng.integers(len(STYLES[digit])))]
        pages.append(draw_page(place(STYLES[digit][name], rng), rng))
        labels.append(digit)
        names.append(name)
    return pages, np.array(labels), names
