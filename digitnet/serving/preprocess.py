"""Turn a photo or scan of a digit into a 28x28 MNIST-style image.

MNIST was made this way (LeCun et al.): the digit, white on black, is
cropped to its bounding box, scaled so that its longer side is 20 pixels
(keeping the aspect ratio, with anti-aliasing), and placed in a 28x28 field
so that its centre of mass sits at the centre. Users' own digits need the
same treatment or the models see something they were never trained on.

Photos need the digit found first. Their paper is rarely evenly lit (a
gradient, a shadow, glare lighter than the paper), and ruled or margin
lines, specks and JPEG noise are marks too. So the paper's level is
estimated locally, on a coarse grid of cells: each cell's upper quartile,
closed (max, then min) over a window a third of the image wide so that the
strokes vanish, and reconstructed so that shadows keep their shape. Ink is
the fraction of the paper's light that a pixel loses; the crop follows the
main stroke mass (and the pieces near it), not every mark on the page.
Pens differ too: a pencil's line is half as wide as MNIST's strokes, a felt
marker's twice as wide, and models read both worse. So a digit whose mean
stroke width lies outside the range of MNIST's own is dilated or eroded to
the nearer end of that range before scaling.
Applied to MNIST's own digits all this gives them back essentially unchanged.

The exact steps are written down once, in export/web/PREPROCESSING.md; the
web demo (export/web/src/preprocess.js) implements the same steps in
JavaScript, and tests check that both give the same 28x28 array. Hence plain
double arithmetic, order statistics and integer counts wherever a decision
is made, round-half-up everywhere, nothing library-specific.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from digitnet.core.errors import DataError

MAX_PIXELS = 40_000_000  # refuse absurd images before decoding them
DIGIT_BOX = 20
FIELD = 28
GRID = 96  # cells of ceil(longer side / 96) pixels: at most a 96 x 96 grid
PAPER_QUANTILE = 0.75  # a cell's paper level: its upper quartile (ink may cover 3/4 of it)
CLOSING = 1 / 6  # closing radius, as a fraction of the grid's longer side (window: a third)
POLARITY_MARGIN = 0.1  # a cell counts for a polarity when this far from the local mid-range
POLARITY_RATIO = 1.5  # ... and one polarity needs 1.5 times the other's count
PAPER_FLOOR = 0.25  # ink is measured against paper at least this light (noise on black is no ink)
INK_MIN = 0.1  # ink (fraction of the paper's light lost) that counts as a mark at all
NOISE_FACTOR = 6  # ... or this many times the median ink, when the whole image is noisy
HISTOGRAM_BINS = 1024  # resolution of ink quantiles
LINE_COVER = 0.9  # a row (column) marked across 90 % of the image is a ruled (margin) line,
LINE_WIDTH = 0.03  # when its band is at most 3 % of the image (or 2 pixels) thick
PIECE = 0.05  # a piece with 5 % of the main stroke mass's ink may lie NEAR it,
NEAR = 0.4  # within 40 % of the main mass's size (a 5's detached bar);
NEAR_SMALL = 0.1  # smaller pieces (specks, dots) only within 10 %
LEVEL_QUANTILE = 0.9  # the digit's ink level: the 90th percentile of its main mass (robust to grain)
CORE = 0.35  # stroke cores: ink of at least 35 % of that level
FRINGE = 0.1  # the crop reaches ink of 10 % of that level (MNIST's anti-aliased edge)
LEVEL_MIN = 0.2  # a digit's ink level is at least this (fainter: shading and edges, not writing)
MIN_DIGIT = 0.04  # a digit's longer side is at least 4 % of the image's
STROKE_MIN = 2.0  # MNIST's stroke width in field pixels (stroke_width): 2.06-4.36 for 90 % of
STROKE_MAX = 4.2  # its training digits; thinner (pencil) or thicker (marker) strokes are brought to this range
STROKE_CROP = 40  # ... in crops at least this long (twice the box); at MNIST's own size a pixel is a third of a stroke


def to_grey(image: Image.Image) -> np.ndarray:
    """Pillow image (any mode) -> float64 grey [H, W] in [0, 1]: Pillow's luma / 255."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels are background: flatten onto white.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


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
            grey = to_grey(image)
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


def cell_size(shape: tuple[int, int]) -> int:
    """Cells of ceil(longer side / GRID) pixels."""
    return max(1, -(-max(shape) // GRID))


def _blocks(height: int, width: int, cell: int):
    """The cell grid as at most four blocks of equal cells: (grid rows, grid
    columns, pixel rows, pixel columns, cell height, cell width). Cells are
    cell x cell pixels; the last row and column of cells may be smaller."""
    spans = []
    for size in (height, width):
        full = size // cell
        axis = [(slice(0, full), slice(0, full * cell), cell)] if full else []
        if full * cell < size:
            axis.append((slice(full, full + 1), slice(full * cell, size), size - full * cell))
        spans.append(axis)
    for grid_y, pixels_y, cell_y in spans[0]:
        for grid_x, pixels_x, cell_x in spans[1]:
            yield grid_y, grid_x, pixels_y, pixels_x, cell_y, cell_x


def per_cell(array: np.ndarray, cell: int, reduce) -> np.ndarray:
    """Grid [ceil(H/cell), ceil(W/cell), ...] of reduce(values [rows, cols, pixels]), which
    reduces each cell's pixels (in raster order) to one value or a few."""
    grid = None
    for grid_y, grid_x, pixels_y, pixels_x, cell_y, cell_x in _blocks(*array.shape, cell):
        block = array[pixels_y, pixels_x]
        rows, cols = block.shape[0] // cell_y, block.shape[1] // cell_x
        values = reduce(block.reshape(rows, cell_y, cols, cell_x).transpose(0, 2, 1, 3)
                        .reshape(rows, cols, cell_y * cell_x))
        if grid is None:
            shape = (-(-array.shape[0] // cell), -(-array.shape[1] // cell)) + values.shape[2:]
            grid = np.empty(shape, dtype=values.dtype)
        grid[grid_y, grid_x] = values
    return grid


def _order_statistics(values: np.ndarray) -> np.ndarray:
    """[..., n] -> [..., 5]: s[0], s[(n-1)//2], s[n-1], s[k], s[n-1-k] of the sorted
    values, k = floor(PAPER_QUANTILE * (n - 1))."""
    n = values.shape[-1]
    rank = int(np.floor(PAPER_QUANTILE * (n - 1)))
    ranks = [0, (n - 1) // 2, n - 1, rank, n - 1 - rank]
    return np.partition(values, sorted(set(ranks)), axis=-1)[..., ranks]


def cell_statistics(grey: np.ndarray, cell: int) -> dict[str, np.ndarray]:
    """Per cell: "low" (minimum), "median" (lower median), "high" (maximum),
    "paper" (upper quartile, PAPER_QUANTILE) and "paper_inverted": the
    element mirrored to it, s[n-1-k], so that 1 - paper_inverted is the paper
    level of the inverted image 1 - grey, exactly."""
    stats = per_cell(grey, cell, _order_statistics)
    return dict(zip(("low", "median", "high", "paper", "paper_inverted"), np.moveaxis(stats, -1, 0)))


def window(grid: np.ndarray, radius: int, pick) -> np.ndarray:
    """pick (np.maximum or np.minimum) over a (2r+1) x (2r+1) window, along rows
    then columns; beyond the edges the grid continues with its edge values."""
    for _ in range(2):  # along axis 0, then (transposed) along axis 1
        padded = np.concatenate([grid[:1]] * radius + [grid] + [grid[-1:]] * radius)
        result = padded[:len(grid)]
        for shift in range(1, 2 * radius + 1):
            result = pick(result, padded[shift:shift + len(grid)])
        grid = result.T
    return grid


def closing_radius(cells: tuple[int, ...]) -> int:
    """Window radius in cells: the window is about a third of the grid's longer side,
    wider than any stroke (and than a bold MNIST digit's filled loop)."""
    return max(1, int(round_half_up(max(cells[:2]) * CLOSING)))


def _lower_median(values: np.ndarray) -> float:
    """The element at index (n - 1) // 2 of the sorted values."""
    flat = np.ravel(values)
    middle = (flat.size - 1) // 2
    return float(np.partition(flat, middle)[middle])


def light_background(grey: np.ndarray, stats: dict[str, np.ndarray]) -> bool:
    """True for dark ink on light paper. Near every stroke the background is the
    majority: so count the cells whose median lies clearly above the middle of
    the range around them (within the closing window) and those clearly below;
    shading and shadow edges add about as many of each, and faint glare stays
    within the margin. Without a clear majority (POLARITY_RATIO: no strokes,
    an empty page) the border's median decides: light when above 0.5 or
    nearer the brightest pixel than the darkest."""
    radius = closing_radius(stats["median"].shape)
    middle = (window(stats["high"], radius, np.maximum) + window(stats["low"], radius, np.minimum)) / 2
    above = int(np.count_nonzero(stats["median"] > middle + POLARITY_MARGIN))
    below = int(np.count_nonzero(stats["median"] < middle - POLARITY_MARGIN))
    if above > POLARITY_RATIO * below or below > POLARITY_RATIO * above:
        return above > below
    level = _lower_median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]))
    return level > 0.5 or level - grey.min() > grey.max() - level


def closing(levels: np.ndarray, radius: int) -> np.ndarray:
    """Window-max, then window-min: strokes, narrower than the window, vanish. The
    grid's outermost rows and columns are also closed along themselves alone and
    keep the lower result: a dark band along an edge (the table beyond the sheet,
    a shadow, the paper around a lighter patch) runs on for longer than the
    window and stays, while a stroke crossing the edge is filled."""
    closed = window(window(levels, radius, np.maximum), radius, np.minimum)
    for edge in (np.s_[:1, :], np.s_[-1:, :], np.s_[:, :1], np.s_[:, -1:]):
        line = window(window(levels[edge], radius, np.maximum), radius, np.minimum)
        closed[edge] = np.minimum(closed[edge], line)
    return closed


def reconstruct(marker: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Reconstruction by erosion: lowers `marker` (>= floor) step by step, each
    cell to the minimum of its 3x3 neighbourhood but never below `floor`, until
    nothing changes. Dark regions that the closing kept in part (a shadow's
    wide body) regain their whole shape (its narrow tips); those it filled
    completely (strokes) stay filled."""
    while True:
        lowered = np.maximum(window(marker, 1, np.minimum), floor)
        if np.array_equal(lowered, marker):
            return marker
        marker = lowered


def _interpolation(size: int, cell: int, cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation between cell centres ((i + 0.5) * cell - 0.5) for pixels
    0..size-1: (first cell, second cell, weight of the second); flat beyond the outer centres."""
    position = (np.arange(size) + 0.5) / cell - 0.5
    first = np.clip(np.floor(position), 0, cells - 1).astype(int)
    second = np.minimum(first + 1, cells - 1)
    weight = np.where(second > first, np.clip(position - first, 0.0, 1.0), 0.0)
    return first, second, weight


def paper_level(levels: np.ndarray, cell: int, shape: tuple[int, int]) -> np.ndarray:
    """[H, W] local paper level (light paper) from the cells' upper quartiles: a
    closing (max, then min, over the window) fills in the strokes, reconstruction
    restores the shadows, and linear interpolation between cell centres gives
    every pixel its level."""
    radius = closing_radius(levels.shape)
    closed = reconstruct(closing(levels, radius), levels)
    y0, y1, ty = _interpolation(shape[0], cell, closed.shape[0])
    x0, x1, tx = _interpolation(shape[1], cell, closed.shape[1])
    rows = closed[:, x0] * (1 - tx) + closed[:, x1] * tx  # along x first, then y
    return rows[y0] * (1 - ty)[:, None] + rows[y1] * ty[:, None]


def ink_level(grey: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Ink as the fraction of the paper's light a pixel loses, (paper - grey) / paper,
    at least 0: glare and patches lighter than the paper are no ink. Paper darker
    than PAPER_FLOOR counts as PAPER_FLOOR, so that noise on (nearly) black paper
    does not become ink."""
    return np.maximum(0.0, (paper - grey) / np.maximum(paper, PAPER_FLOOR))


def histogram_bin(ink: np.ndarray, quantile: float) -> int:
    """The bin (1/1024 wide, over [0, 1]) of the histogram of `ink` that holds the
    element at index floor(quantile * (n - 1)) of the sorted values."""
    bins = np.minimum(np.floor(ink * HISTOGRAM_BINS), HISTOGRAM_BINS - 1).astype(int)
    counts = np.cumsum(np.bincount(bins.ravel(), minlength=HISTOGRAM_BINS))
    return int(np.argmax(counts > int(np.floor(quantile * (ink.size - 1)))))


def _line_bands(counts: np.ndarray, length: int, across: int) -> list[tuple[int, int]]:
    """[start, end) of each thin band of rows (or columns) marked across LINE_COVER of the image."""
    marked = list(counts >= LINE_COVER * length) + [False]
    widest = max(2.0, LINE_WIDTH * across)
    bands, start = [], None
    for index, flag in enumerate(marked):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            if index - start <= widest:
                bands.append((start, index))
            start = None
    return bands


def _clear_bands(mask: np.ndarray, original: np.ndarray) -> None:
    """Clears the line bands along axis 0, except where a stroke meets or crosses
    the line: marks in both of the two rows just above, or just below, the band
    (two, so that the line's own faint anti-aliased edge does not count)."""
    height = original.shape[0]
    for start, end in _line_bands(original.sum(axis=1), original.shape[1], height):
        touching = np.zeros(original.shape[1], dtype=bool)
        if start >= 2:
            touching |= original[start - 1] & original[start - 2]
        if end + 2 <= height:
            touching |= original[end] & original[end + 1]
        mask[start:end, ~touching] = False


def without_lines(mask: np.ndarray) -> np.ndarray:
    """The mask of marks with ruled lines (rows) and margin lines (columns) cleared."""
    cleared = mask.copy()
    _clear_bands(cleared, mask)
    _clear_bands(cleared.T, mask.T)
    return cleared


def label_cells(on: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a boolean grid, numbered 1, 2, ... in raster order of
    each component's first cell. Found run by run (a union-find over each row's runs
    of cells): number reading labels every candidate piece, so this is on its hot path."""
    parent = [0]

    def find(label: int) -> int:
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    labels = np.zeros(on.shape, dtype=np.int64)
    padded = np.zeros((on.shape[0], on.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = on
    rows, edges = np.nonzero(np.diff(padded, axis=1))  # each row's runs: a start, then an end
    previous: list[tuple[int, int, int]] = []
    current: list[tuple[int, int, int]] = []
    row, first = -1, 0
    for y, start, end in zip(rows[::2].tolist(), edges[::2].tolist(), edges[1::2].tolist()):
        if y != row:
            previous, current, first = (current if y == row + 1 else []), [], 0
            row = y
        while first < len(previous) and previous[first][1] < start:
            first += 1
        label, index = 0, first
        while index < len(previous) and previous[index][0] <= end:
            other = find(previous[index][2])
            if label == 0:
                label = other
            elif other != label:
                parent[max(label, other)] = min(label, other)
                label = min(label, other)
            index += 1
        if label == 0:
            label = len(parent)
            parent.append(label)
        labels[y, start:end] = label
        current.append((start, end, label))
    numbers = np.zeros(len(parent), dtype=np.int64)
    count = 0
    for label in range(1, len(parent)):
        root = find(label)
        if numbers[root] == 0:
            count += 1
            numbers[root] = count
        numbers[label] = numbers[root]
    return numbers[labels], count


def _cell_box(cells: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the True cells, inclusive."""
    ys, xs = np.nonzero(cells)
    return ys.min(), ys.max(), xs.min(), xs.max()


def digit_cells(mask: np.ndarray, ink: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Groups the marks into 8-connected pieces on the cell grid and picks the
    digit: the piece with the most ink (sum of floor(255 * ink) over its marked
    pixels; the first in raster order on ties) and the pieces near it (PIECE,
    NEAR, NEAR_SMALL). Returns the digit's cells, the main piece's cells and
    the main piece's longer side in cells."""
    labels, count = label_cells(per_cell(mask, cell, lambda values: values.any(axis=-1)))
    mass = per_cell(np.where(mask, np.floor(ink * 255), 0).astype(np.int64), cell,
                    lambda values: values.sum(axis=-1))
    totals = np.bincount(labels.ravel(), weights=mass.ravel(), minlength=count + 1)
    main = int(np.argmax(totals[1:])) + 1
    top, bottom, left, right = _cell_box(labels == main)
    size = max(bottom - top, right - left) + 1
    chosen = np.zeros(labels.shape, dtype=bool)
    for label in range(1, count + 1):
        piece_top, piece_bottom, piece_left, piece_right = _cell_box(labels == label)
        gap = max(0, piece_top - bottom - 1, top - piece_bottom - 1, piece_left - right - 1, left - piece_right - 1)
        near = NEAR if totals[label] >= PIECE * totals[main] else NEAR_SMALL
        if gap <= near * size:
            chosen |= labels == label
    return chosen, labels == main, size


def cell_pixels(cells: np.ndarray, cell: int, shape: tuple[int, int]) -> np.ndarray:
    """Cell grid -> pixel grid of `shape`."""
    return np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)[:shape[0], :shape[1]]


def _no_digit(name: str, ink: np.ndarray, noise: float, threshold: float) -> DataError:
    """The error for an image without marks: noisy (the threshold rose with the noise) or blank."""
    if threshold > INK_MIN:
        return DataError(f"{name}: no digit found (the image is noise: its median ink is {noise:.2f} "
                         f"of the paper level, nothing stands out from it)")
    return DataError(f"{name}: no digit found (the image is blank: its strongest ink is {ink.max():.2f} "
                     f"of the paper level, more than {threshold:.2f} is needed)")


def _select(ink: np.ndarray, threshold: float, name: str, noise: float) -> tuple[np.ndarray, ...]:
    """(marks, digit cells, main piece cells), found without the ruled and margin
    lines, unless the lines were all there was (a lone stroke across the image)."""
    marks = ink > threshold
    if not marks.any():
        raise _no_digit(name, ink, noise, threshold)
    cell, longest = cell_size(ink.shape), max(ink.shape)
    cleared = without_lines(marks)
    if cleared.any():
        chosen, main, size = digit_cells(cleared, ink, cell)
        if size * cell >= max(2, MIN_DIGIT * longest):
            return cleared, chosen, main
    chosen, main, size = digit_cells(marks, ink, cell)
    if size * cell < max(2, MIN_DIGIT * longest):
        raise DataError(f"{name}: no digit found (only specks: the largest mark is {size * cell} "
                        f"pixels across, the image {longest})")
    return marks, chosen, main


def ink_noise(ink: np.ndarray) -> tuple[float, float]:
    """(noise, threshold): the median ink (its histogram bin), and the ink that counts as a mark."""
    noise = histogram_bin(ink, 0.5) / HISTOGRAM_BINS
    return noise, max(INK_MIN, NOISE_FACTOR * noise)


def find_digit(ink: np.ndarray, name: str, noise: float | None = None) -> np.ndarray:
    """ink [H, W] -> the digit cropped to its box, in [0, 1] (1: its ink level)."""
    return find_digit_box(ink, name, noise)[0]


def find_digit_box(ink: np.ndarray, name: str, noise: float | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """find_digit, with the crop's box in `ink`: (top, bottom, left, right), bottom and right
    exclusive. `noise` (ink_noise's first value) is measured on `ink` unless given: a part
    cut out of a larger image takes the whole image's."""
    cell = cell_size(ink.shape)
    noise, threshold = ink_noise(ink) if noise is None else (noise, max(INK_MIN, NOISE_FACTOR * noise))
    marks, chosen, main = _select(ink, threshold, name, noise)
    level = (histogram_bin(ink[marks & cell_pixels(main, cell, ink.shape)], LEVEL_QUANTILE) + 1) / HISTOGRAM_BINS
    if level < LEVEL_MIN:
        raise DataError(f"{name}: no digit found (only faint marks: their ink is {level:.3f} of the paper "
                        f"level, a digit's at least {LEVEL_MIN})")
    core = marks & (ink >= max(threshold, CORE * level)) & cell_pixels(chosen, cell, ink.shape)
    # The digit: the cells with stroke cores and their 8 neighbours (the strokes' edges).
    keep = cell_pixels(window(per_cell(core, cell, lambda values: values.any(axis=-1)), 1, np.maximum),
                   cell, ink.shape)
    inside = keep & (ink > max(FRINGE * level, threshold / 2))
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    digit = np.where(keep, np.clip((ink - noise) / (level - noise), 0.0, 1.0), 0.0)
    return digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)


def stroke_width(digit: np.ndarray) -> float | None:
    """The digit's mean stroke width, in pixels of the 28x28 field it will be scaled
    to: twice the area of its strokes (pixels of at least half the ink level) over
    their edge pixels (those with a 4-neighbour outside the strokes), times the
    scale to_field applies to a 28x28 field (a wider field's may be larger: its strokes are
    then as much wider). None without strokes."""
    strokes = digit >= 0.5
    area = int(np.count_nonzero(strokes))
    if area == 0:
        return None
    padded = np.pad(strokes, 1)
    inner = strokes & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    edge = area - int(np.count_nonzero(inner))
    return 2 * area / edge * DIGIT_BOX / max(digit.shape)


def normalize_stroke(digit: np.ndarray) -> np.ndarray:
    """Cropped digit -> the same with its stroke width brought into [STROKE_MIN,
    STROKE_MAX]: a window-max (dilation) or window-min (erosion) of radius
    round((target - width) / 2) field pixels, in the crop's pixels, over the digit
    padded with black, then cropped again to its non-zero pixels. Digits within
    the range, crops shorter than STROKE_CROP and digits needing a radius of 0
    come back as they are. (The crop grows or shrinks with the strokes, so the
    width moves a little less than the radius says; allowing for that fared no
    better on photos of training digits and changed a few of MNIST's own.)"""
    if max(digit.shape) < STROKE_CROP:
        return digit
    width = stroke_width(digit)
    if width is None or STROKE_MIN <= width <= STROKE_MAX:
        return digit
    target = STROKE_MIN if width < STROKE_MIN else STROKE_MAX
    radius = int(round_half_up((target - width) / 2 * max(digit.shape) / DIGIT_BOX))
    if radius == 0:
        return digit
    size = abs(radius)
    changed = window(np.pad(digit, size), size, np.maximum if radius > 0 else np.minimum)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size == 0:
        return digit
    return changed[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


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


def to_field(digit: np.ndarray, width: int = FIELD) -> np.ndarray:
    """Cropped digit (white on black, in [0, 1]) -> uint8 [28, 28] ([28, width]): longer side 20,
    centre of mass at pixel (14, 14). `width` (a multiple of 28; experiments only): a field that
    many pixels wide, the crop fitted into DIGIT_BOX rows and DIGIT_BOX * width / 28 columns, its
    centre of mass at (14, width / 2): a pair of digits keeps each digit's resolution."""
    height, own_width = digit.shape
    box_width = DIGIT_BOX * width // FIELD
    scale = min(DIGIT_BOX / height, box_width / own_width)
    new_height = max(1, int(round_half_up(height * scale)))
    new_width = max(1, int(round_half_up(own_width * scale)))
    resized = area_weights(height, new_height) @ digit @ area_weights(own_width, new_width).T
    resized = np.clip(resized, 0.0, 1.0)
    total = resized.sum()
    ys, xs = np.indices(resized.shape)
    centre_y, centre_x = (ys * resized).sum() / total, (xs * resized).sum() / total
    # Shift so the centre of mass lands on pixel (14, 14), where MNIST's digits
    # have theirs (measured: mean 13.99, 14.00 over the test set), (14, width / 2)
    # in a wider field; clamped inside.
    top = int(round_half_up(FIELD / 2 - centre_y))
    left = int(round_half_up(width / 2 - centre_x))
    top = min(max(top, 0), FIELD - resized.shape[0])
    left = min(max(left, 0), width - resized.shape[1])
    field = np.zeros((FIELD, width))
    field[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return round_half_up(field * 255).astype(np.uint8)


def ink_image(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """float grey [H, W] in [0, 1] (either polarity) -> ink [H, W]: the fraction of the local
    paper's light that each pixel loses (a light digit on a dark ground is inverted first)."""
    if grey.ndim != 2 or grey.size == 0:
        raise DataError(f"{name}: expected a non-empty 2-D grey image, received shape {grey.shape}")
    grey = np.asarray(grey, dtype=np.float64)
    cell = cell_size(grey.shape)
    stats = cell_statistics(grey, cell)
    if light_background(grey, stats):
        levels = stats["paper"]
    else:  # a light digit on a dark ground: make it dark ink on light paper
        grey, levels = 1 - grey, 1 - stats["paper_inverted"]
    return ink_level(grey, paper_level(levels, cell, grey.shape))


def to_input(digit: np.ndarray, width: int = FIELD) -> np.ndarray:
    """Cropped digit (find_digit's) -> uint8 [28, 28] ([28, width]): strokes brought to MNIST's width, then
    placed as MNIST's (`width`: to_field's)."""
    return to_field(normalize_stroke(digit), width)


def to_mnist(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """float grey [H, W] in [0, 1] (either polarity) -> uint8 [28, 28], white digit on black."""
    return to_input(find_digit(ink_image(grey, name), name))


def prepare_file(path: str | os.PathLike) -> np.ndarray:
    """Image file -> uint8 [28, 28] MNIST-style input; DataError naming the file otherwise."""
    return to_mnist(load_image(path), name=str(path))
