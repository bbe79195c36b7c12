"""Realistic "photos" of MNIST digits, for testing and benchmarking preprocessing.

A photo here is what a user sends: a digit written in dark ink on paper
(level 215-255), its 28x28 field enlarged to 80-240 pixels, somewhere
off-centre on a page 1.25-2.2 times larger, grey or RGB, with light sensor
noise. The hard cases, each selectable by name
(see CASES), add what real photos have: uneven lighting, a shadow, a
highlight or a patch lighter than the paper, JPEG artefacts, other pens
(blue, black, pencil, thick marker), ruled lines and a margin line.

numpy and Pillow only, and seeded: the same digit, cases and generator give
the same photo, so tests and benchmarks are reproducible.

    from digitnet.data.photo_synth import make_photo
    image = make_photo(mnist_digit, ("shadow", "pencil"), np.random.default_rng(0), rgb=True)
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from PIL import Image, ImageFilter

CASES = ("gradient", "shadow", "highlight", "patch", "jpeg", "blue_pen", "black_pen",
         "pencil", "marker", "ruled_line", "margin_line")
PENS = ("blue_pen", "black_pen", "pencil", "marker")


def _odd(value: float) -> int:
    """round(value), made odd (upwards) and at least 1: Pillow's rank filters take odd sizes."""
    size = max(1, int(round(value)))
    return size if size % 2 else size + 1


def _ink_alpha(digit: np.ndarray, size: int, pen: str, rng: np.random.Generator) -> np.ndarray:
    """The 28x28 digit enlarged to size x size as ink coverage in [0, 1], shaped by the pen."""
    image = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    unit = size / 28  # one MNIST pixel, in photo pixels
    if pen == "pencil":  # a thin line: erode the stroke to about half
        image = image.filter(ImageFilter.MinFilter(_odd(unit * rng.uniform(0.8, 1.4))))
    elif pen == "black_pen":  # a ballpoint: somewhat thinner than MNIST's strokes
        image = image.filter(ImageFilter.MinFilter(_odd(unit * rng.uniform(0.4, 0.8))))
    elif pen == "marker":  # a felt marker: much thicker
        image = image.filter(ImageFilter.MaxFilter(_odd(unit * rng.uniform(1.5, 2.5))))
    image = image.filter(ImageFilter.GaussianBlur(max(0.5, unit * 0.15)))
    alpha = np.clip(np.asarray(image, dtype=np.float64) / 255.0 * 1.15, 0.0, 1.0)
    if pen == "pencil":  # graphite: partial cover with grain
        alpha *= rng.uniform(0.75, 0.95) * (1.0 - 0.35 * rng.random(alpha.shape))
    return alpha


def _ink_colour(pen: str, rng: np.random.Generator) -> np.ndarray:
    """RGB of the pen's ink: blue, graphite grey, black, or an ordinary pen's dark grey."""
    if pen == "blue_pen":
        return np.array([rng.uniform(15, 60), rng.uniform(35, 90), rng.uniform(120, 190)])
    if pen == "pencil":
        return np.full(3, rng.uniform(70, 120))
    if pen in ("black_pen", "marker"):
        return np.full(3, rng.uniform(5, 30))
    return np.full(3, rng.uniform(0, 60))  # dark ink of an ordinary pen


def _paper(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """[H, W, 3] paper of level 215-255 with a slight, random tint."""
    level = rng.uniform(215, 255)
    tint = np.clip(level + rng.uniform(-6, 3, 3), 0, 255)
    return np.broadcast_to(tint, (height, width, 3)).copy()


def _draw_ruled_lines(page: np.ndarray, digit_top: int, size: int, rng: np.random.Generator) -> None:
    """Light blue or grey horizontal lines across the page, one of them through the digit."""
    spacing = size * rng.uniform(0.3, 0.45)
    through = digit_top + size * rng.uniform(0.3, 0.7)  # a line crosses the digit here
    colour = np.array([rng.uniform(140, 190), rng.uniform(165, 205), rng.uniform(205, 245)])
    if rng.random() < 0.3:
        colour = np.full(3, rng.uniform(150, 200))
    thickness = rng.uniform(1.0, 1.0 + size / 80)
    first = through - spacing * np.floor(through / spacing)
    for centre in np.arange(first, page.shape[0], spacing):
        _draw_band(page, centre, thickness, colour, axis=0)


def _draw_margin_line(page: np.ndarray, digit_left: int, size: int, rng: np.random.Generator) -> None:
    """A red or pink vertical line down the whole page, near (sometimes through) the digit's left side."""
    centre = digit_left + size * rng.uniform(0.0, 0.3)
    colour = np.array([rng.uniform(200, 240), rng.uniform(70, 150), rng.uniform(80, 160)])
    _draw_band(page, centre, rng.uniform(1.0, 1.0 + size / 80), colour, axis=1)


def _draw_band(page: np.ndarray, centre: float, thickness: float, colour: np.ndarray, axis: int) -> None:
    """A straight line along the whole page, anti-aliased: each row (axis 0) or column
    (axis 1) is covered by the fraction of it that lies inside [centre - t/2, centre + t/2]."""
    length = page.shape[axis]
    low, high = centre - thickness / 2, centre + thickness / 2
    for index in range(max(0, int(np.floor(low))), min(length, int(np.ceil(high)))):
        cover = min(high, index + 1) - max(low, index)
        if axis == 0:
            page[index] = page[index] * (1 - cover) + colour * cover
        else:
            page[:, index] = page[:, index] * (1 - cover) + colour * cover


def _draw_patch(page: np.ndarray, rng: np.random.Generator) -> None:
    """A rectangle lighter than the paper (a label, a whiter sheet underneath)."""
    height, width = page.shape[:2]
    h, w = int(height * rng.uniform(0.3, 0.8)), int(width * rng.uniform(0.3, 0.8))
    top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    region = page[top:top + h, left:left + w]
    page[top:top + h, left:left + w] = np.minimum(255.0, region + rng.uniform(15, 40))


def _unit_ramp(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """[H, W] in [0, 1] rising linearly along a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.indices((height, width), dtype=np.float64)
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    return (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-9)


def _apply_gradient(page: np.ndarray, rng: np.random.Generator) -> None:
    """Uneven lighting: brightness falls off by 25-45 % across the page."""
    page *= (1.0 - rng.uniform(0.25, 0.45) * _unit_ramp(*page.shape[:2], rng))[..., None]


def _apply_shadow(page: np.ndarray, rng: np.random.Generator) -> None:
    """A soft-edged shadow (a hand, a phone) over part of the page and digit."""
    height, width = page.shape[:2]
    ramp = _unit_ramp(height, width, rng)
    inside = (ramp < rng.uniform(0.3, 0.7)).astype(np.uint8) * 255
    softness = max(height, width) * rng.uniform(0.01, 0.04)
    mask = np.asarray(Image.fromarray(inside).filter(ImageFilter.GaussianBlur(softness)), dtype=np.float64) / 255
    page *= (1.0 - (1.0 - rng.uniform(0.5, 0.75)) * mask)[..., None]


def _apply_highlight(page: np.ndarray, rng: np.random.Generator) -> None:
    """A glare spot: reflected light adds the same amount to paper and ink around a
    random point; the sensor clips at 255, so the paper there turns white."""
    height, width = page.shape[:2]
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    radius = max(height, width) * rng.uniform(0.08, 0.25)
    ys, xs = np.indices((height, width), dtype=np.float64)
    glare = rng.uniform(25, 80) * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * radius ** 2))
    np.minimum(page + glare[..., None], 255.0, out=page)


def _jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The image saved as JPEG of quality 30-70 and read back."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(30, 71)))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert(image.mode)


def check_cases(cases: Sequence[str]) -> str:
    """Refuses unknown case names; returns the pen (of several pens the first counts)."""
    unknown = set(cases) - set(CASES)
    if unknown:
        raise ValueError(f"unknown photo cases {sorted(unknown)}; choose from {', '.join(CASES)}")
    pens = [case for case in cases if case in PENS]
    return pens[0] if pens else "pen"


def blank_page(height: int, width: int, cases: Sequence[str], rng: np.random.Generator, *,
               top: int, left: int, high: int, size: int) -> np.ndarray:
    """RGB paper [height, width, 3] (floats) with what lies under the ink: a patch, ruled lines
    around the writing at `top` (`high` pixels high), a margin line left of `left` (digits of `size`)."""
    page = _paper(height, width, rng)
    if "patch" in cases:
        _draw_patch(page, rng)
    if "ruled_line" in cases:
        _draw_ruled_lines(page, top, high, rng)
    if "margin_line" in cases:
        _draw_margin_line(page, left, size, rng)
    return page


def ink_alpha(digit: np.ndarray, size: int, pen: str, rng: np.random.Generator) -> np.ndarray:
    """The pen's coverage [size, size] in [0, 1] of a 28x28 digit written `size` pixels high."""
    return _ink_alpha(digit, size, pen, rng)


def finish_photo(page: np.ndarray, alpha: np.ndarray, cases: Sequence[str], pen: str, rng: np.random.Generator, *,
                 rgb: bool, noise: bool) -> Image.Image:
    """The page with ink of coverage `alpha` [height, width] in the pen's colour, then lighting,
    sensor noise and JPEG as `cases` say: an RGB image if `rgb`, else grey ("L")."""
    page = page * (1 - alpha[..., None]) + _ink_colour(pen, rng) * alpha[..., None]
    for case, apply in (("gradient", _apply_gradient), ("shadow", _apply_shadow), ("highlight", _apply_highlight)):
        if case in cases:
            apply(page, rng)
    if noise:
        page += rng.normal(0.0, rng.uniform(1.0, 3.0), page.shape)
    image = Image.fromarray(np.clip(np.floor(page + 0.5), 0, 255).astype(np.uint8), "RGB")
    image = image if rgb else image.convert("L")
    return _jpeg(image, rng) if "jpeg" in cases else image


def make_photo(digit: np.ndarray, cases: Sequence[str], rng: np.random.Generator, *,
               rgb: bool = False, noise: bool = True) -> Image.Image:
    """One photo of `digit` (28x28 uint8, MNIST polarity) with the named hard cases
    (any of CASES; of several pens the first counts): an RGB image if `rgb`, else grey ("L");
    `noise` adds sensor noise of 1-3 grey levels (standard deviation)."""
    pen = check_cases(cases)
    size = int(rng.integers(80, 241))
    height, width = (int(size * rng.uniform(1.25, 2.2)) for _ in range(2))
    top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    page = blank_page(height, width, cases, rng, top=top, left=left, high=size, size=size)
    alpha = np.zeros((height, width))
    alpha[top:top + size, left:left + size] = _ink_alpha(digit, size, pen, rng)
    return finish_photo(page, alpha, cases, pen, rng, rgb=rgb, noise=noise)


def random_cases(rng: np.random.Generator, most: int = 2) -> tuple[str, ...]:
    """A mix for benchmarks: none, one or up to `most` hard cases, at most one pen."""
    count = int(rng.integers(0, most + 1))
    chosen: list[str] = []
    for case in rng.permutation(CASES):
        if len(chosen) == count:
            break
        if case in PENS and any(c in PENS for c in chosen):
            continue
        chosen.append(str(case))
    return tuple(chosen)


def photo_set(digits: np.ndarray, cases: Sequence[str] | None, seed: int, rgb_every: int = 3) -> list[Image.Image]:
    """Photos of each digit; `cases=None` draws a random mix per photo. Every
    `rgb_every`-th photo is RGB, the others grey."""
    rng = np.random.default_rng(seed)
    photos = []
    for index, digit in enumerate(digits):
        chosen = random_cases(rng) if cases is None else tuple(cases)
        photos.append(make_photo(digit, chosen, rng, rgb=index % rgb_every == rgb_every - 1))
    return photos
