"""Find the digits of a written number, left to right, in a photo's ink.

A number is a row of digits, so its pieces are found as connected ink (on
a grid of at most SEGMENT_GRID cells along the longer side) and then
judged by their size relative to the row's height (the median height of its
substantial pieces):

- pieces stacked one above the other and overlapping in x are one digit
  written in several strokes (a 5's cap, a 7's bar, a pencil line broken by
  the paper's grain); pieces side by side are left to the classifier;
- what is much smaller than the row (specks, dots, commas), a thin line
  much longer than a digit is wide or high, and what lies beside the row
  rather than in it is not a digit; a piece much lower than the row joins
  its nearest neighbour.

Which pieces and parts of pieces are digits is then decided by the
classifier (recognition-driven segmentation): a piece wider than a digit
usually is (two touching digits, three in one blob) is cut at the columns
the least ink crosses into units; every run of a few consecutive units is a
candidate digit, prepared and classified in one batch; the digits are the
runs covering all units whose values multiply to the most (dynamic
programming). A candidate's value is its confidence times a width prior
(a piece much wider than high is likelier two digits) times a cost per
digit: a classifier reads a merged pair, and the halves of one digit, as
surely as one digit (probabilities saturate), so the priors and, where one
is given, the piece judge decide between them. The piece judge
(PIECE_JUDGE_FILE, trained by digitnet/experiments/piece_judge.py on the
segmenter's own candidates of generated numbers) gives each candidate's
probability of being one whole digit, which multiplies its value. A candidate whose digit is less than half the row's height (a sliver
of a stroke) is no digit, however surely it reads. A piece alone on the
page must be wider still before it is cut: the classifiers read a thin
slice of a wide 3 or 5 as a confident 1.

Each digit is prepared exactly as a single digit is (preprocess.find_digit
on the digit's own part of the ink, the other digits' ink blanked, with the
whole image's noise level; then preprocess.to_input). When the number holds
one digit, the whole image is prepared as a single digit is, so that
a single digit reads exactly as through preprocess alone. export/web/PREPROCESSING.md writes the
steps down.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from digitnet.core.errors import DataError
from digitnet.serving import preprocess

SEGMENT_GRID = 640  # cells of ceil(longer side / 640) pixels
MERGE_OVERLAP = 0.5  # pieces overlapping in x by half the narrower one's width are one digit,
MERGE_GAP = 0.3  # when the vertical gap between them is at most 0.3 of the larger one's height
SUBSTANTIAL = 0.25  # pieces with a quarter of the largest one's ink set the row's height
SPECK = 0.35  # pieces whose longer side is under 0.35 of the row's height are no digits
LINE_THIN = 0.2  # a piece thinner than 0.2 of the row's height ...
LINE_LONG = 1.2  # ... and longer than 1.2 of it is a line, not a digit
SHORT = 0.5  # a piece lower than half the row's height joins the nearest digit (or is dropped)
IN_ROW = 0.3  # a digit lies at least 0.3 of its height within the row's band
WIDE = 0.6  # a piece wider than 0.6 of max(its height, the row's) may be touching digits: cut into units;
WIDE_ALONE = 1.4  # alone on the page, wider than 1.4 (a wide 3 or 5, or a wide letter, alone is not cut)
PART_MIN = 0.12  # each side of a cut is at least 0.12 of the row's height wide
CUTS = 4  # candidate cuts per row height of a piece's width (chosen on validation: reports/number_reading.md)
SEAM = 0.0  # a cut bends at most this fraction of the row's height from its column (0: straight cuts)
SEAM_INK = 1 << 20  # a bent cut's cost: this per ink cell it crosses, plus its distance from its column per row
STACKED = 0.5  # pieces overlapping in height by more than half the lower one's are side by side
# Settings to compare, off (reports/number_reading.md, "A digit's strokes put together again"):
ARCS = False  # side by side pieces overlapping in x by ARC_OVERLAP of the narrower one's width are one digit
ARC_OVERLAP = 0.8  # ... (the arcs of one loop that a faint stroke breaks)
TALL_ROW = False  # the row's height counts only substantial pieces at least SHORT of the tallest one's height
SPAN = 8  # a digit is at most 8 consecutive units,
WIDEST = 1.7  # ... no wider than 1.7 of the row's height when it is several
WIDTH_FREE = 0.9  # the width prior: 1 up to 0.9 of max(own height, the row's),
WIDTH_SLOPE = 0.3  # ... then 0.3 less per height of width
WIDTH_PRIOR = (WIDTH_FREE, WIDTH_SLOPE)
NARROW = 0.13  # a piece narrower than 0.13 of max(its height, the row's) is likelier a sliver of a stroke:
SLIVER = 0.8  # ... its value is multiplied by 0.8 (a 1 is rarely that thin)
JOIN = 0.7  # a digit made of two groups (side by side) costs this factor
DIGIT = 0.97  # each digit read costs this factor (two sure halves of a digit read as surely as the digit)
FLOOR = 1e-6  # the value of a piece that is no digit
PIECE_POWER = 1.0  # a candidate's value is multiplied by the piece judge's P(one digit) to this power
PIECE_JUDGE_FILE = Path(__file__).with_name("piece_judge.npz")  # experiments/piece_judge.py writes it
PAIR_READER_FILE = Path(__file__).with_name("pair_reader.npz")  # experiments/pair_reader.py writes it
PAIR_CLASSES, NOT_A_PAIR = 101, 100  # the pair reader's outputs: pairs 10 * left + right, then "not a pair"
PAIR_WIDE = 0.7  # a piece of one group at least 0.7 of max(its height, the row's) wide may be read as a pair
PAIR_ALONE = False  # a lone group too narrow to be cut (one unit) may be read as a pair
PAIR_VETO = False  # a piece the pair reader reads is worth one digit only times its P(not a pair)
PAIR_SURE = False  # a piece is read as a pair only when its likeliest pair is likelier than "not a pair"
WIDEST_FIELD = 280  # a pair reader reads fields 28 high and a multiple of 28 wide, up to this (field_width)
Classify = Callable[[np.ndarray], np.ndarray]  # uint8 [N, 28, 28] -> probabilities [N, 10]
OneDigit = Callable[[np.ndarray], np.ndarray]  # uint8 [N, 28, 28] -> [N] P(the input is one whole digit)
ReadPair = Callable[[np.ndarray], np.ndarray]  # uint8 [N, 28, 28] -> [N, PAIR_CLASSES] probabilities
# (a reader with a `width` attribute other than 28 reads [N, 28, width]: preprocess.to_field's wide fields)


@dataclasses.dataclass(frozen=True)
class Piece:
    """Ink of the label grid: the union of its parts, each (components, left, right): those
    components (a sorted tuple of labels) restricted, in each grid row y, to the columns from
    edge `left` to edge `right` (Segmenter.edges[left][y] <= x < Segmenter.edges[right][y])."""

    parts: tuple


@dataclasses.dataclass(frozen=True)
class Digit:
    """One digit found: its 28x28 input, its box in the image's pixels (left, top, right, bottom;
    right and bottom exclusive) and the classifier's probabilities."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    probabilities: np.ndarray


class Segmenter:
    """The digits of one image's ink; `classify` scores the cuts of touching digits, `one_digit`
    (the piece judge), when given, how likely each candidate is one whole digit, and `read_pair`
    (the pair reader), when given, which two digits a piece of one group may be."""

    def __init__(self, ink: np.ndarray, name: str, classify: Classify | None, one_digit: OneDigit | None = None,
                 width_prior: tuple[float, float] = WIDTH_PRIOR, cuts: int = CUTS, seam: float = SEAM,
                 read_pair: ReadPair | None = None, pair_alone: bool = PAIR_ALONE, wide_alone: float | None = None,
                 pair_veto: bool = PAIR_VETO, pair_sure: bool = PAIR_SURE, arcs: bool = ARCS,
                 tall_row: bool = TALL_ROW):
        self.ink, self.name, self.classify, self.one_digit = ink, name, classify, one_digit
        self.arcs, self.tall_row = arcs, tall_row
        self.read_pair, self.pair_alone, self.pair_veto, self.pair_sure = read_pair, pair_alone, pair_veto, pair_sure
        self.wide_alone = WIDE_ALONE if wide_alone is None else wide_alone
        self.width_free, self.width_slope = width_prior
        self.cuts, self.seam = cuts, seam
        self.noise, threshold = preprocess.ink_noise(ink)
        marks = ink > threshold
        if not marks.any():
            preprocess.find_digit(ink, name)  # raises the single digit's error: blank or noise
        cleared = preprocess.without_lines(marks)
        marks = cleared if cleared.any() else marks
        self.cell = max(1, -(-max(ink.shape) // SEGMENT_GRID))
        on = preprocess.per_cell(marks, self.cell, lambda values: values.any(axis=-1))
        self.labels, count = preprocess.label_cells(on)
        mass = preprocess.per_cell(np.where(marks, np.floor(ink * 255), 0).astype(np.int64), self.cell,
                                   lambda values: values.sum(axis=-1))
        self.mass = np.bincount(self.labels.ravel(), weights=mass.ravel(), minlength=count + 1)
        ys, xs = np.nonzero(self.labels)
        found = self.labels[ys, xs]
        self.boxes = np.zeros((count + 1, 4), dtype=np.int64)  # top, bottom, left, right (exclusive)
        self.boxes[:, 0], self.boxes[:, 2] = on.shape[0], on.shape[1]
        np.minimum.at(self.boxes[:, 0], found, ys)
        np.maximum.at(self.boxes[:, 1], found, ys + 1)
        np.minimum.at(self.boxes[:, 2], found, xs)
        np.maximum.at(self.boxes[:, 3], found, xs + 1)
        rows, cols = self.labels.shape
        # The edges parts lie between: each a column per grid row; 0 and 1 are the grid's sides.
        self.edges = [np.zeros(rows, dtype=np.int64), np.full(rows, cols, dtype=np.int64)]
        self.edge_index = {edge.tobytes(): index for index, edge in enumerate(self.edges)}
        self.masks: dict[Piece, np.ndarray] = {}
        self.prepared: dict[Piece, tuple[np.ndarray, tuple[int, ...]] | None] = {}
        self.crops: dict[Piece, np.ndarray] = {}  # each prepared piece's cropped ink (find_digit_box's)
        self.scores: dict[Piece, np.ndarray | None] = {}
        self.whole_digit: dict[Piece, float] = {}

    # Pieces and their boxes.
    def mask(self, piece: Piece) -> np.ndarray:
        """The piece's grid cells (read-only: computed once per piece, its edges never change)."""
        if piece in self.masks:
            return self.masks[piece]
        mask = np.zeros(self.labels.shape, dtype=bool)
        for labels, left, right in piece.parts:
            lefts, rights = self.edges[left], self.edges[right]
            start, stop = int(lefts.min()), int(rights.max())
            if stop <= start:
                continue
            chosen = np.zeros(len(self.mass), dtype=bool)
            chosen[list(labels)] = True
            inside = chosen[self.labels[:, start:stop]]
            if lefts.max() > start or rights.min() < stop:  # a bent edge
                columns = np.arange(start, stop)[None, :]
                inside &= (columns >= lefts[:, None]) & (columns < rights[:, None])
            mask[:, start:stop] |= inside
        mask.flags.writeable = False
        self.masks[piece] = mask
        return mask

    def box(self, piece: Piece) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) on the grid, exclusive."""
        mask = self.mask(piece)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1

    def whole(self, labels) -> Piece:
        return Piece(((tuple(sorted(int(v) for v in labels)), 0, 1),))

    # The row: strokes joined, non-digits dropped.
    def strokes_joined(self) -> list[set]:
        """Components grouped into digits, heaviest first: each joins the group it overlaps most in x."""
        groups: list[tuple[set, list]] = []
        for label in np.argsort(-self.mass[1:], kind="stable") + 1:
            top, bottom, left, right = self.boxes[label]
            best, best_overlap = None, 0.0
            for members, box in groups:
                overlap = (min(right, box[3]) - max(left, box[2])) / min(right - left, box[3] - box[2])
                gap = max(0, top - box[1], box[0] - bottom)
                beside = min(bottom, box[1]) - max(top, box[0]) > STACKED * min(bottom - top, box[1] - box[0])
                arc = self.arcs and overlap >= ARC_OVERLAP
                if overlap >= MERGE_OVERLAP and gap <= MERGE_GAP * max(bottom - top, box[1] - box[0]) \
                        and overlap > best_overlap and (arc or not beside):
                    best, best_overlap = (members, box), overlap
            if best is None:
                groups.append(({int(label)}, [top, bottom, left, right]))
            else:
                best[0].add(int(label))
                box = best[1]
                box[:] = [min(box[0], top), max(box[1], bottom), min(box[2], left), max(box[3], right)]
        return [members for members, _ in groups]

    def row(self, groups: list[set]) -> tuple[list[set], float]:
        """The groups that are digits, and the row's height in cells."""
        boxes = np.array([[self.boxes[list(g), 0].min(), self.boxes[list(g), 1].max(),
                           self.boxes[list(g), 2].min(), self.boxes[list(g), 3].max()] for g in groups])
        mass = np.array([self.mass[list(g)].sum() for g in groups])
        substantial = mass >= SUBSTANTIAL * mass.max()
        heights, widths = boxes[:, 1] - boxes[:, 0], boxes[:, 3] - boxes[:, 2]
        if self.tall_row:  # a 5's cap or a 7's bar drawn apart is substantial but does not set the height
            substantial &= heights >= SHORT * heights[substantial].max()
        height = float(np.median(heights[substantial]))
        band_top, band_bottom = np.median(boxes[substantial, 0]), np.median(boxes[substantial, 1])
        inside = np.minimum(boxes[:, 1], band_bottom) - np.maximum(boxes[:, 0], band_top)
        keep = ((np.maximum(heights, widths) >= SPECK * height)
                & ~((np.minimum(heights, widths) < LINE_THIN * height)
                    & (np.maximum(heights, widths) > LINE_LONG * height))
                & (inside >= IN_ROW * heights))
        short = heights < SHORT * height
        digits = [set(g) for g, k, low in zip(groups, keep, short) if k and not low]
        if not digits:
            return [g for g, k in zip(groups, keep) if k], height
        tall = boxes[keep & ~short]  # a short piece is part of its nearest digit (a 5's cap, a 7's bar), if near
        for index in np.flatnonzero(keep & short):
            group, box = groups[index], boxes[index]
            gaps = np.maximum(0, np.maximum(box[2] - tall[:, 3], tall[:, 2] - box[3]))
            nearest = int(np.argmin(gaps))
            if gaps[nearest] <= MERGE_GAP * height:
                digits[nearest] |= set(group)
        return digits, height

    # Preparing and scoring a piece.
    def prepare(self, piece: Piece, others: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]] | None:
        """The piece's 28x28 input and its pixel box (left, top, right, bottom), or None when the
        single-digit steps find no digit in it; `others`: grid cells of the other digits."""
        if piece in self.prepared:
            return self.prepared[piece]
        own = self.mask(piece)
        top, bottom, left, right = (v * self.cell for v in self.box(piece))
        margin = 2 * self.cell + 2
        top, left = max(0, top - margin), max(0, left - margin)
        bottom, right = min(self.ink.shape[0], bottom + margin), min(self.ink.shape[1], right + margin)
        blank = self.pixels(preprocess.window(others.astype(np.int8), 1, np.maximum).astype(bool) & ~own)
        ink = np.where(blank[top:bottom, left:right], 0.0, self.ink[top:bottom, left:right])
        try:
            digit, (y0, y1, x0, x1) = preprocess.find_digit_box(ink, self.name, self.noise)
            result = preprocess.to_input(digit), (left + x0, top + y0, left + x1, top + y1)
            self.crops[piece] = digit
        except DataError:
            result = None
        self.prepared[piece] = result
        return result

    def wide_input(self, piece: Piece, width: int) -> np.ndarray:
        """The prepared piece's input in a field `width` pixels wide (preprocess.to_input's); its 28x28
        input when width is 28."""
        return self.prepared[piece][0] if width == preprocess.FIELD else preprocess.to_input(self.crops[piece], width)

    def pixels(self, cells: np.ndarray) -> np.ndarray:
        return preprocess.cell_pixels(cells, self.cell, self.ink.shape)

    def score(self, pieces: list[Piece], everything: np.ndarray) -> list[float]:
        """Each piece's confidence (its largest probability; 0 when no digit is found in it),
        the other pieces being everything else that is ink of a digit."""
        missing = [p for p in pieces if p not in self.scores]
        inputs = [(p, self.prepare(p, everything & ~self.mask(p))) for p in missing]
        ready = [(p, prepared) for p, prepared in inputs if prepared is not None]
        if ready:
            probabilities = np.asarray(self.classify(np.stack([prepared[0] for _, prepared in ready])))
            if probabilities.ndim != 2 or probabilities.shape[1] != 10:
                raise DataError(f"the model is not a classifier (its output has shape {list(probabilities.shape)})")
            for (piece, _), row in zip(ready, probabilities):
                self.scores[piece] = row
            if self.one_digit is not None:
                for (piece, _), p in zip(ready, np.asarray(self.one_digit(np.stack([r[0] for _, r in ready])))):
                    self.whole_digit[piece] = float(p)
        for piece, prepared in inputs:
            if prepared is None:
                self.scores[piece] = None
        return [0.0 if self.scores[p] is None else float(self.scores[p].max()) for p in pieces]

    # The lattice: units (whole pieces, or the parts of a wide one between candidate cuts) and
    # digits made of consecutive units.
    def cut_paths(self, piece: Piece, height: float) -> list[np.ndarray]:
        """Candidate cuts, left to right, each a column per grid row (the cells left of it go left):
        from each column at least PART_MIN of the row's height inside the piece, the cut down its rows
        that crosses the least of its ink, one column left, right or straight per row, at most
        `seam` (SEAM) of the row's height from its column and at least PART_MIN of it inside the
        piece's sides (the cost adds the distance from its column per row; ties: straight, then from
        the left); the columns whose cuts cross least are chosen, at least PART_MIN of the row's
        height apart, `cuts` (CUTS) per row height of the piece's width. A cut that would cross its
        left neighbour follows the neighbour there; one that then comes nowhere in the piece's rows
        PART_MIN of the row's height right of it is dropped (at SEAM 0 none is)."""
        top, bottom, left, right = self.box(piece)
        least = max(1, int(preprocess.round_half_up(PART_MIN * height)))
        band = int(preprocess.round_half_up(self.seam * height))
        inner = np.arange(left + least, right - least + 1)
        if inner.size == 0:
            return []
        mask = self.mask(piece)
        if band == 0:  # straight cuts: a column's cost is the ink it crosses
            costs = SEAM_INK * mask[:, inner].sum(axis=0).astype(np.int64)

            def trace(index: int) -> np.ndarray:
                return np.full(mask.shape[0], inner[index], dtype=np.int64)
        else:
            costs, trace = self.bent_cuts(mask, inner, (top, bottom, left, right), least, band)
        wanted = int(np.ceil(self.cuts * (right - left) / height))
        chosen: list[int] = []
        for index in np.argsort(costs, kind="stable"):
            if len(chosen) == wanted:
                break
            if all(abs(int(inner[index]) - int(inner[c])) >= least for c in chosen):
                chosen.append(int(index))
        paths: list[np.ndarray] = []
        for index in sorted(chosen):
            path = trace(index)
            if paths:
                path = np.maximum(path, paths[-1])
                if (path - paths[-1])[top:bottom].max() < least:
                    continue
            paths.append(path)
        return paths

    @staticmethod
    def bent_cuts(mask: np.ndarray, inner: np.ndarray, box: tuple, least: int, band: int):
        """For each start column in `inner`: the least cost of a cut down the box's rows (SEAM_INK per
        ink cell of `mask` crossed plus its distance from the column, per row; one column left, right or
        straight per row, at most `band` from the column, at least `least` inside the box's sides), and
        a function giving that cut as a column per grid row (cut_paths' ties)."""
        top, bottom, left, right = box
        ink = np.zeros((mask.shape[0], mask.shape[1] + 1), dtype=np.int64)
        ink[:, :-1] = mask
        offsets = np.arange(-band, band + 1)
        columns = inner[:, None] + offsets[None, :]
        valid = (columns >= left + least) & (columns <= right - least)
        blocked = np.int64(1) << 50
        columns = np.clip(columns, left, right)
        near = np.abs(offsets)[None, :]

        def row_cost(y):
            return np.where(valid, SEAM_INK * ink[y][columns] + near, blocked)

        total = row_cost(top)
        steps = []  # per row below the top: 0 straight down, 1 from the offset left of it, 2 from the right
        for y in range(top + 1, bottom):
            came = np.full((3,) + total.shape, blocked)
            came[0] = total
            came[1][:, 1:] = total[:, :-1]
            came[2][:, :-1] = total[:, 1:]
            step = np.argmin(came, axis=0).astype(np.int8)
            steps.append(step)
            total = np.minimum(np.take_along_axis(came, step[None], axis=0)[0] + row_cost(y), blocked)
        ends = np.argmin(total, axis=1)

        def trace(index: int) -> np.ndarray:
            offset = int(ends[index])
            path = np.empty(mask.shape[0], dtype=np.int64)
            path[bottom - 1:] = inner[index] + offsets[offset]
            for y in range(bottom - 1, top, -1):
                offset += (0, -1, 1)[int(steps[y - top - 1][index, offset])]
                path[y - 1] = inner[index] + offsets[offset]
            path[:top] = path[top]
            return path

        return total[np.arange(inner.size), ends], trace

    def units(self, groups: list[set], height: float) -> list[tuple[int, Piece]]:
        """(group index, unit) left to right: each group whole, or, when it is wide (WIDE of
        max(its height, the row's); WIDE_ALONE when it is alone on the page), its parts between
        the candidate cuts."""
        order = sorted(range(len(groups)), key=lambda i: (self.group_box(groups[i])[2] + self.group_box(groups[i])[3],
                                                          i))
        found = []
        for index in order:
            whole = self.whole(groups[index])
            top, bottom, left, right = self.box(whole)
            wide = self.wide_alone if len(groups) == 1 else WIDE
            if right - left <= wide * max(bottom - top, height):
                found.append((index, whole))
                continue
            edges = [0] + [self.edge(path) for path in self.cut_paths(whole, height)] + [1]
            parts = [Piece(((whole.parts[0][0], a, b),)) for a, b in zip(edges[:-1], edges[1:])]
            found += [(index, p) for p in parts if self.mask(p).any()]
        return found

    def edge(self, path: np.ndarray) -> int:
        """The index of the edge `path` (a column per grid row) in `edges`, added when it is new (so that
        a second reading of the same ink meets the same pieces, already prepared and scored)."""
        key = path.astype(np.int64).tobytes()
        if key not in self.edge_index:
            self.edge_index[key] = len(self.edges)
            self.edges.append(path)
        return self.edge_index[key]

    def group_box(self, group: set) -> tuple[int, int, int, int]:
        labels = list(group)
        return (self.boxes[labels, 0].min(), self.boxes[labels, 1].max(), self.boxes[labels, 2].min(),
                self.boxes[labels, 3].max())

    @staticmethod
    def joined(units: list[tuple[int, Piece]]) -> Piece:
        """One piece of consecutive units (the parts of one group joined into one)."""
        parts: list[tuple] = []
        for _, unit in units:
            labels, left, right = unit.parts[0]
            if parts and parts[-1][0] == labels and parts[-1][2] == left:
                parts[-1] = (labels, parts[-1][1], right)
            else:
                parts.append((labels, left, right))
        return Piece(tuple(sorted(parts)))

    def candidates(self, units: list[tuple[int, Piece]], groups: list[set], height: float) -> dict:
        """(start, end) -> (piece, groups joined, whole only group) for the runs of consecutive units that
        may be one digit: each whole group, and runs of at most SPAN units: one unit, or several no
        wider than WIDEST of the row's height, whose groups lie at most MERGE_GAP of the row's height apart."""
        found = {}
        for start in range(len(units)):
            for end in range(start + 1, min(len(units), start + SPAN) + 1):
                run = units[start:end]
                piece = self.joined(run)
                top, bottom, left, right = self.box(piece)
                indices = [i for i, _ in run]
                whole = indices[0] == indices[-1] and (start == 0 or units[start - 1][0] != indices[0]) \
                    and (end == len(units) or units[end][0] != indices[0])
                if end - start > 1 and right - left > WIDEST * height and not whole:
                    continue
                apart = [self.group_gap(groups[a], groups[b]) for a, b in zip(indices[:-1], indices[1:]) if a != b]
                if any(gap > MERGE_GAP * height for gap in apart):
                    break
                found[(start, end)] = (piece, len(apart), whole and len(groups) == 1)
        for index in range(len(groups)):  # each group whole, however many units it spans
            span = [position for position, (group, _) in enumerate(units) if group == index]
            if span and (span[0], span[-1] + 1) not in found:
                found[(span[0], span[-1] + 1)] = (self.joined(units[span[0]:span[-1] + 1]), 0, len(groups) == 1)
        return found

    def group_gap(self, a: set, b: set) -> int:
        box_a, box_b = self.group_box(a), self.group_box(b)
        return max(0, box_a[2] - box_b[3], box_b[2] - box_a[3])

    def value(self, piece: Piece, joins: int, height: float, alone: bool = False, digit: int | None = None) -> float:
        """How likely the piece is one digit (`digit`, when given): the classifier's confidence (its
        probability of `digit`) times the width prior
        (1 up to width_free of max(its height, the row's), then falling by width_slope per such
        height, never below FLOOR; SLIVER when narrower than NARROW) times JOIN for each pair of groups it joins
        times the piece judge's P(one whole digit), when there is one; FLOOR for no digit or
        one lower than SHORT of the row's height (a sliver of a stroke is no digit). `alone`: the
        piece is the only group on the page, whole: it takes no width prior (a wide digit alone is
        cut only where its parts read more surely than it)."""
        prepared, scores = self.prepared.get(piece), self.scores.get(piece)
        if prepared is None or scores is None or prepared[1][3] - prepared[1][1] < SHORT * height * self.cell:
            return FLOOR
        top, bottom, left, right = self.box(piece)
        width = (right - left) / max(bottom - top, height)
        free, slope = self.width_free, self.width_slope
        prior = 1.0 if width <= free or alone else max(FLOOR, 1.0 - (width - free) * slope)
        if width < NARROW:
            prior *= SLIVER
        join = 1.0
        for _ in range(joins):  # multiplied, not powered: the page computes the same bits
            join *= JOIN
        judged = max(FLOOR, self.whole_digit[piece]) ** PIECE_POWER if piece in self.whole_digit else 1.0
        confidence = float(scores.max() if digit is None else scores[digit])
        return confidence * prior * join * DIGIT * judged

    def pairs(self, candidates: dict, height: float) -> dict:
        """Piece -> the pair reader's probabilities [PAIR_CLASSES], for the candidates of one group
        (no gap joined) at least PAIR_WIDE of max(their height, the row's) wide that are prepared and
        whose digit is at least SHORT of the row's height high (as value() requires of one digit)."""
        if self.read_pair is None:
            return {}
        wide = []
        for piece, joins, _ in candidates.values():
            top, bottom, left, right = self.box(piece)
            prepared = self.prepared.get(piece)
            if joins == 0 and len(piece.parts) == 1 and prepared is not None \
                    and prepared[1][3] - prepared[1][1] >= SHORT * height * self.cell \
                    and right - left >= PAIR_WIDE * max(bottom - top, height):
                wide.append(piece)
        if not wide:
            return {}
        width = getattr(self.read_pair, "width", preprocess.FIELD)
        found = np.asarray(self.read_pair(np.stack([self.wide_input(p, width) for p in wide])), dtype=np.float64)
        return dict(zip(wide, found))

    def best_path(self, units, groups, height, everything) -> list[tuple[Piece, np.ndarray | None]]:
        """The digits: the runs of units covering them all whose values multiply to the most, each
        (piece, None) for one digit or (piece, the pair reader's probabilities) for two: a pair is
        worth its likeliest pair's probability times DIGIT squared; with `pair_veto`, the same piece read
        as one digit is worth its value times the pair reader's P(not a pair); with `pair_sure`, a piece is
        read as a pair only when its likeliest pair is likelier than "not a pair"."""
        candidates = self.candidates(units, groups, height)
        self.score([piece for piece, _, _ in candidates.values()], everything)
        pairs = self.pairs(candidates, height)
        best = [1.0] + [-1.0] * len(units)
        back: list[tuple[int, bool]] = [(0, False)] * (len(units) + 1)
        for end in range(1, len(units) + 1):
            for start in range(end):  # runs of at most SPAN units, and whole groups of more
                if (start, end) not in candidates or best[start] < 0:
                    continue
                piece, joins, alone = candidates[(start, end)]
                total = best[start] * self.value(piece, joins, height, alone)
                if self.pair_veto and piece in pairs:
                    total *= float(pairs[piece][NOT_A_PAIR])
                if total > best[end]:
                    best[end], back[end] = total, (start, False)
                unsure = piece in pairs and self.pair_sure and pairs[piece][:NOT_A_PAIR].max() <= pairs[piece][NOT_A_PAIR]
                if piece in pairs and not unsure:
                    total = best[start] * float(pairs[piece][:NOT_A_PAIR].max()) * DIGIT * DIGIT
                    if total > best[end]:
                        best[end], back[end] = total, (start, True)
        pieces, end = [], len(units)
        while end > 0:
            start, pair = back[end]
            piece = candidates[(start, end)][0]
            pieces.append((piece, pairs[piece] if pair else None))
            end = start
        return pieces[::-1]

    def counted_path(self, units, groups, height, everything, count: int,
                     spelling: str | None = None) -> list[tuple[Piece, np.ndarray | None]] | None:
        """best_path's digits when the number must have `count` of them (a pair counts two): the runs
        of units valued as best_path values them, the best of those that make `count` digits; None
        when no run of the units makes that many. With `spelling` (`count` digits), the runs are
        valued as reading it: each piece by its probability of the digit in its place, a pair by its
        probability of the two in theirs."""
        candidates = self.candidates(units, groups, height)
        self.score([piece for piece, _, _ in candidates.values()], everything)
        pairs = self.pairs(candidates, height)
        # best[(end, digits)] = (value, (start, pair)) of the best runs covering units[:end] with that many digits.
        best: dict[tuple[int, int], tuple[float, tuple[int, bool]]] = {(0, 0): (1.0, (0, False))}
        for end in range(1, len(units) + 1):
            for start in range(end):
                if (start, end) not in candidates:
                    continue
                piece, joins, alone = candidates[(start, end)]
                one = self.value(piece, joins, height, alone)
                if self.pair_veto and piece in pairs:
                    one *= float(pairs[piece][NOT_A_PAIR])
                unsure = piece in pairs and self.pair_sure and pairs[piece][:NOT_A_PAIR].max() <= pairs[piece][NOT_A_PAIR]
                two = float(pairs[piece][:NOT_A_PAIR].max()) * DIGIT * DIGIT if piece in pairs and not unsure else None
                for digits in range(count):
                    before = best.get((start, digits))
                    if before is None:
                        continue
                    values = (one, two) if spelling is None else \
                        self.spelled(piece, joins, height, alone, pairs, spelling[digits:digits + 2], two is not None)
                    for added, value, pair in ((1, values[0], False), (2, values[1], True)):
                        if value is None or digits + added > count:
                            continue
                        total = before[0] * value
                        if total > best.get((end, digits + added), (-1.0, None))[0]:
                            best[(end, digits + added)] = (total, (start, pair))
        if (len(units), count) not in best:
            return None
        pieces, end, digits = [], len(units), count
        while end > 0:
            start, pair = best[(end, digits)][1]
            piece = candidates[(start, end)][0]
            pieces.append((piece, pairs[piece] if pair else None))
            end, digits = start, digits - (2 if pair else 1)
        return pieces[::-1]

    def spelled(self, piece: Piece, joins: int, height: float, alone: bool, pairs: dict, places: str,
                may_pair: bool) -> tuple[float, float | None]:
        """counted_path's values of a piece read as the first digit of `places` (one or two digits), and
        read as a pair of both (None when it may not be read as a pair or `places` holds one digit)."""
        one = self.value(piece, joins, height, alone, int(places[0]))
        if self.pair_veto and piece in pairs:
            one *= float(pairs[piece][NOT_A_PAIR])
        two = float(pairs[piece][10 * int(places[0]) + int(places[1])]) * DIGIT * DIGIT \
            if may_pair and len(places) == 2 else None
        return one, two

    def split_pair(self, piece: Piece, pair: np.ndarray, height: float, everything: np.ndarray) -> list[Digit]:
        """The two digits of a piece read as a pair (a, b, the likeliest pair): probabilities the pair's
        conditionals (the left digit's: P(x, b) over x; the right's: P(a, x) over x; so that they read a
        and b), boxes and inputs the piece's sides of its candidate straight cut whose sides
        the classifier reads most surely as the likeliest pair's digits (the left side's probability
        of the left digit times the right side's of the right one; ties: nearest the middle, then
        leftmost; the middle column when there is no cut; the whole piece's input, and its box cut at
        the column, for a side with no digit)."""
        top, bottom, left, right = self.box(piece)
        middle = (left + right) / 2
        columns = [int(path[top]) for path in self.cut_paths(piece, height) if path.min() == path.max()]
        (labels, first, last), = piece.parts
        sides = {}
        for column in columns or [int(middle)]:
            cut = self.edge(np.full(self.labels.shape[0], column, dtype=np.int64))
            sides[column] = (Piece(((labels, first, cut),)), Piece(((labels, cut, last),)))
        first_digit, second_digit = divmod(int(np.argmax(pair[:NOT_A_PAIR])), 10)
        self.score([side for both in sides.values() for side in both if self.mask(side).any()], everything)

        def agreement(column: int) -> float:
            found = [self.scores.get(side) for side in sides[column]]
            return (0.0 if found[0] is None else float(found[0][first_digit])) \
                * (0.0 if found[1] is None else float(found[1][second_digit]))

        column = min(sides, key=lambda c: (-agreement(c), abs(c - middle), c))
        odds = pair[:NOT_A_PAIR].reshape(10, 10)
        left_odds, right_odds = odds[:, second_digit], odds[first_digit, :]
        left_odds, right_odds = (o / max(float(o.sum()), 1e-12) for o in (left_odds, right_odds))
        whole_image, (x0, y0, x1, y1) = self.prepared[piece]
        split = min(max(column * self.cell, x0 + 1), x1 - 1)  # within the pair's box
        digits = []
        for side, probabilities, fallback in ((sides[column][0], left_odds, (x0, y0, split, y1)),
                                              (sides[column][1], right_odds, (split, y0, x1, y1))):
            prepared = self.prepared.get(side)
            image, box = prepared if prepared is not None else (whole_image, fallback)
            digits.append(Digit(image, box, probabilities))
        return digits

    def candidate_inputs(self, width: int = preprocess.FIELD) -> list[tuple[np.ndarray, tuple[int, ...]]]:
        """Every candidate digit of the lattice, prepared as score prepares it: (28x28 input,
        pixel box), unscored (what the piece judge learns from); `width`: inputs that many pixels
        wide (wide_input's), for a pair reader of wide fields."""
        groups, height = self.row(self.strokes_joined())
        if not groups:
            return []
        everything = np.isin(self.labels, [label for g in groups for label in g])
        found = []
        for piece, _, _ in self.candidates(self.units(groups, height), groups, height).values():
            prepared = self.prepare(piece, everything & ~self.mask(piece))
            if prepared is not None:
                found.append((self.wide_input(piece, width), prepared[1]))
        return found

    def digits(self, count: int | None = None, spelling: str | None = None) -> list[Digit] | None:
        """The number's digits left to right; None when it holds a single digit (prepared as one).
        With `count` (2 or more), the best reading of exactly that many digits (counted_path); None
        when the row holds no such reading; with `spelling` too, the best reading as it."""
        groups, height = self.row(self.strokes_joined())
        if len(groups) == 0:
            return None
        everything = np.isin(self.labels, [label for g in groups for label in g])
        units = self.units(groups, height)
        if count is not None:
            path = self.counted_path(units, groups, height, everything, count, spelling)
            if path is None:
                return None
        elif len(units) == 1 and not (self.pair_alone and self.read_pair is not None):
            return None
        else:
            path = self.best_path(units, groups, height, everything)
        if len(path) == 1 and path[0][1] is None:
            return None
        self.score([piece for piece, pair in path if pair is None], everything)
        found = []
        for piece, pair in path:
            if pair is not None:
                found += self.split_pair(piece, pair, height, everything)
            elif self.prepared.get(piece) is not None:
                found.append(Digit(self.prepared[piece][0], self.prepared[piece][1], self.scores[piece]))
        found.sort(key=lambda digit: digit.box[0] + digit.box[2])
        if len(found) <= 1:
            return None
        return found

    def find(self, count: int | None = None, spelling: str | None = None) -> list[Digit] | None:
        """find_digits of this segmenter's ink and settings. A second call (another `count`) reuses
        the pieces the first one prepared and scored."""
        if spelling is not None:
            if not spelling or set(spelling) - set("0123456789") or count not in (None, len(spelling)):
                raise ValueError(f"a spelling is `count` digits 0-9; received {spelling!r} for count {count}")
            count = len(spelling)
        digits = self.digits(count, spelling) if count != 1 else None
        if digits is not None and (count is None or len(digits) == count):
            return digits
        if count is not None and count != 1:
            return None
        digit, (top, bottom, left, right) = preprocess.find_digit_box(self.ink, self.name)
        image = preprocess.to_input(digit)
        probabilities = np.asarray(self.classify(image[None]))
        if probabilities.ndim != 2 or probabilities.shape[1] != 10:
            raise DataError(f"the model is not a classifier (its output has shape {list(probabilities.shape)})")
        return [Digit(image, (left, top, right, bottom), probabilities[0])]


def load_piece_judge(path: str | Path = PIECE_JUDGE_FILE) -> OneDigit | None:
    """The piece judge at `path` (experiments/piece_judge.py trains it) as P(one whole digit)
    per input, or None when there is no such file."""
    from digitnet.serving.judge import Detector

    path = Path(path)
    if not path.is_file():
        return None
    detector = Detector.load(path)
    return lambda images: 1.0 - detector(images)


def load_pair_reader(path: str | Path = PAIR_READER_FILE) -> ReadPair:
    """The pair reader at `path` (experiments/pair_reader.py trains it): probabilities [N, PAIR_CLASSES]
    per input; OSError or ValueError naming the file when it is missing or no pair reader."""
    from digitnet.serving.judge import DETECTOR_LAYERS, Detector

    detector = Detector.load(path)
    classes = detector.weights[f"{DETECTOR_LAYERS[-1][0]}/bias"].shape[0]
    if classes != PAIR_CLASSES:
        raise ValueError(f"{path}: a pair reader has {PAIR_CLASSES} outputs, this file has {classes}")

    def read_pair(images: np.ndarray) -> np.ndarray:
        logits = detector.logits(images).astype(np.float64)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    read_pair.width = field_width(detector)
    return read_pair


def field_width(detector) -> int:
    """The width of the inputs a detector of judge.DETECTOR_LAYERS reads (28, or a wider field: its dense
    layer's inputs tell); ValueError when no multiple of 28 up to WIDEST_FIELD fits them."""
    from digitnet.serving.judge import DETECTOR_LAYERS

    dense = next(name for name, kind, _ in DETECTOR_LAYERS if kind == "dense")
    rows = detector.weights[f"{dense}/kernel"].shape[0]
    for width in range(preprocess.FIELD, WIDEST_FIELD + 1, preprocess.FIELD):
        height, across, channels = preprocess.FIELD, width, 1
        for name, kind, size in DETECTOR_LAYERS:
            if kind == "conv":
                height, across, channels = height - 2, across - 2, size
            elif kind == "pool":
                height, across = height // size, across // size
            else:
                break
        if height * across * channels == rows:
            return width
    raise ValueError(f"a detector's dense layer with {rows} inputs reads no field 28 high and a multiple of 28 wide "
                     f"up to {WIDEST_FIELD}")


def find_digits(ink: np.ndarray, name: str, classify: Classify, one_digit: OneDigit | None = None,
                width_prior: tuple[float, float] = WIDTH_PRIOR, cuts: int = CUTS, seam: float = SEAM,
                read_pair: ReadPair | None = None, pair_alone: bool = PAIR_ALONE,
                wide_alone: float | None = None, pair_veto: bool = PAIR_VETO,
                pair_sure: bool = PAIR_SURE, arcs: bool = ARCS, tall_row: bool = TALL_ROW,
                count: int | None = None, spelling: str | None = None) -> list[Digit] | None:
    """ink [H, W] (preprocess.ink_image) -> the digits, left to right; a DataError when there are none.
    `count`: that many digits (1: the ink read as one digit; 2 or more: the best reading of exactly
    that many, None when the row holds none); `spelling`: a string of digits, read as its count is,
    the pieces valued by their probability of the digit in their place (counted_path);
    `one_digit`: the piece judge (None: the classifier and the priors alone decide the cuts);
    `read_pair`: the pair reader (None: every piece is read as one digit);
    `width_prior` (WIDTH_FREE, WIDTH_SLOPE), `cuts` (CUTS), `seam` (SEAM), `pair_alone` (PAIR_ALONE),
    `wide_alone` (WIDE_ALONE), `pair_veto` (PAIR_VETO), `pair_sure` (PAIR_SURE), `arcs` (ARCS) and
    `tall_row` (TALL_ROW): other values only to compare them."""
    return Segmenter(ink, name, classify, one_digit, width_prior, cuts, seam, read_pair, pair_alone,
                     wide_alone, pair_veto, pair_sure, arcs, tall_row).find(count, spelling)
