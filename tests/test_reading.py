"""Reading whole numbers: segmentation on constructed numbers, the reading record, predict's output.

The constructed numbers are MNIST test digits pasted on white paper at known
places, so the boxes the segmentation finds can be checked against the
places, and a stub classifier (the digit whose MNIST image correlates best
with the 28x28 input) keeps the tests independent of any trained model.
"""
import json

from collections import deque

import numpy as np
import pytest
from PIL import Image

from digitnet import predict
from digitnet.core import cli
from digitnet.serving import preprocess, segment
from digitnet.serving.reading import pair_reader, read

SCALE = 4  # each MNIST pixel becomes 4x4 paper pixels


@pytest.fixture(scope="module")
def templates(mnist):
    """One clean 28x28 input per MNIST test digit used, and a classifier that matches against them."""
    chosen = {label: int(np.flatnonzero(mnist.test_labels == label)[0]) for label in range(10)}
    images = {label: mnist.test_images[index] for label, index in chosen.items()}
    prepared = np.stack([preprocess.to_mnist(images[label] / 255.0).astype(float).ravel() for label in range(10)])
    prepared -= prepared.mean(axis=1, keepdims=True)
    prepared /= np.linalg.norm(prepared, axis=1, keepdims=True)

    def classify(batch: np.ndarray) -> np.ndarray:
        flat = batch.reshape(len(batch), -1).astype(float)
        flat -= flat.mean(axis=1, keepdims=True)
        flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-9)
        scores = np.exp(20 * flat @ prepared.T)
        return scores / scores.sum(axis=1, keepdims=True)

    return images, classify


def page_of(images: dict, digits: str, gaps: list[int], size=(None, None)) -> tuple[np.ndarray, list]:
    """Dark digits on white paper, `gaps` MNIST pixels apart between their ink (negative:
    overlapping); the grey page and each digit's ink box (left, top, right, bottom)."""
    inks, boxes, x = [], [], 10
    for index, digit in enumerate(digits):
        ink = images[int(digit)] / 255.0
        cols = np.flatnonzero(ink.max(axis=0) > 0)
        if index:
            x += gaps[index - 1] - cols[0]
        inks.append((ink, x))
        x += cols[-1] + 1
    width = x + 10 if size[0] is None else size[0]
    page = np.zeros((28 + 20, width))
    for ink, left in inks:
        page[10:38, left:left + 28] = np.maximum(page[10:38, left:left + 28], ink)
        rows, cols = np.flatnonzero(ink.max(axis=1) > 0), np.flatnonzero(ink.max(axis=0) > 0)
        boxes.append((SCALE * (left + cols[0]), SCALE * (10 + rows[0]), SCALE * (left + cols[-1] + 1),
                      SCALE * (10 + rows[-1] + 1)))
    big = np.kron(page, np.ones((SCALE, SCALE)))
    return 1.0 - big, boxes


def flood_fill_labels(on: np.ndarray) -> tuple[np.ndarray, int]:
    """The reference: 8-connected components by breadth-first flood fill, numbered in raster order."""
    labels, count = np.zeros(on.shape, dtype=int), 0
    for start in zip(*np.nonzero(on)):
        if labels[start]:
            continue
        count += 1
        labels[start], queue = count, deque([start])
        while queue:
            y, x = queue.popleft()
            for ny in range(max(0, y - 1), min(on.shape[0], y + 2)):
                for nx in range(max(0, x - 1), min(on.shape[1], x + 2)):
                    if on[ny, nx] and not labels[ny, nx]:
                        labels[ny, nx] = count
                        queue.append((ny, nx))
    return labels, count


def test_the_run_labelling_finds_the_flood_fills_components():
    rng = np.random.default_rng(0)
    # Sparse and narrow grids hold empty rows, which no component crosses.
    for density, shape in ((0.05, (30, 4)), (0.1, (30, 40)), (0.2, (30, 40)), (0.45, (30, 40)), (0.7, (30, 40))):
        for _ in range(10):
            grid = rng.random(shape) < density
            ours, count = preprocess.label_cells(grid)
            theirs, expected = flood_fill_labels(grid)
            assert count == expected
            np.testing.assert_array_equal(ours, theirs)


def test_separate_digits_give_their_boxes_and_the_number(templates):
    images, classify = templates
    grey, boxes = page_of(images, "2026", [6, 8, 5])
    reading = read(grey, classify)
    assert reading.number == "2026"
    for found, true in zip((d.box for d in reading.digits), boxes):
        assert np.abs(np.array(found) - np.array(true)).max() <= 2 * SCALE, (found, true)


def test_each_digit_is_prepared_as_a_single_digit_is(templates):
    """Like a photo of that digit alone: the crop follows the ink the same way, on a finer cell grid."""
    images, classify = templates
    grey, boxes = page_of(images, "38", [12])
    reading = read(grey, classify)
    for digit, box in zip(reading.digits, boxes):
        left, top, right, bottom = box
        alone = np.ones_like(grey)
        alone[top - 8:bottom + 8, left - 8:right + 8] = grey[top - 8:bottom + 8, left - 8:right + 8]
        alone_input = preprocess.to_mnist(alone)
        assert np.corrcoef(digit.image.ravel(), alone_input.ravel())[0, 1] > 0.97
        assert np.abs(digit.image.astype(int) - alone_input.astype(int)).mean() < 4


def test_a_touching_pair_is_cut(templates):
    images, classify = templates
    grey, _ = page_of(images, "4035", [6, -4, 6])  # the 0 and the 3 overlap by 4 MNIST pixels
    marks = preprocess.ink_image(grey) > 0.1
    assert preprocess.label_cells(marks)[1] == 4  # the 4, the 0 and the 3 touching, the 5 (its cap apart)
    # The stub and the priors alone: no line reader, whose spelling a stub's probabilities cannot check.
    assert read(grey, classify, judge_pieces=False, read_lines=False).number == "4035"


@pytest.mark.slow
def test_a_touching_pair_is_cut_by_default_with_the_reference_model(mnist):
    """read's default (the piece judge) with the reference committee on the same touching page: the
    stub classifier above is no model the piece judge is paired with."""
    chosen = {label: int(np.flatnonzero(mnist.test_labels == label)[0]) for label in range(10)}
    grey, _ = page_of({label: mnist.test_images[index] for label, index in chosen.items()}, "4035", [6, -4, 6])
    assert read(grey, "saved_models/tflite/committee/1/committee_int8.tflite").number == "4035"


def test_a_digit_in_two_strokes_and_a_detached_cap_stay_one_digit(templates):
    images, classify = templates
    grey, boxes = page_of(images, "157", [8, 8])
    left, top, right, bottom = boxes[1]
    cut = top + (bottom - top) // 3  # the 5's cap, cut off from its body by a 3-pixel gap
    grey[cut:cut + 3, left:right] = 1.0
    left, top, right, bottom = boxes[2]
    grey[top + (bottom - top) // 4: top + (bottom - top) // 4 + 3, left:right] = 1.0  # the 7 broken too
    assert read(grey, classify).number == "157"


def _read_with(grey, classify, **settings) -> str:
    """The number read with the shipped piece judge and pair reader and segmenter `settings`."""
    ink = preprocess.ink_image(grey, "number")
    digits = segment.find_digits(ink, "number", classify, segment.load_piece_judge(), read_pair=pair_reader(),
                                 **settings)
    return "".join(str(int(np.argmax(digit.probabilities))) for digit in digits)


def test_a_lone_digit_whose_cap_is_drawn_apart_is_one_digit_with_the_row_set_by_taller_pieces(templates, mnist):
    """A 5 alone whose cap a faint stroke parts from its body, the cap more than a third of the body's
    height: the cap is substantial ink and lowers the row's height, against which the body is "wide" and
    cut ("90"). With `tall_row` (a setting to compare: reports/number_reading.md) it is one digit."""
    images, classify = templates
    assert mnist.test_labels[8] == 5
    grey = cap_apart(mnist.test_images[8])
    assert _blobs(grey) >= 2
    assert _read_with(grey, classify, tall_row=True) == "5"
    assert len(_read_with(grey, classify, tall_row=False)) == 2


def cap_apart(digit: np.ndarray) -> np.ndarray:
    """The page of one digit whose top 45 % a 3-pixel gap parts from the rest (a 5's cap drawn apart)."""
    grey, ((left, top, right, bottom),) = page_of({0: digit}, "0", [])
    cut = top + int((bottom - top) * 0.45)
    grey[cut:cut + 3, left:right] = 1.0
    return grey


def broken_ring(digit: np.ndarray, degrees: float) -> np.ndarray:
    """The digit with a band a pixel wide either side of the line through its centre of mass at
    `degrees` erased: a ring becomes two arcs, as a pencil's grain parts a faint 0."""
    ys, xs = np.nonzero(digit)
    weights = digit[ys, xs].astype(float)
    cy, cx = (ys * weights).sum() / weights.sum(), (xs * weights).sum() / weights.sum()
    yy, xx = np.mgrid[0:28, 0:28]
    angle = np.radians(degrees)
    erased = digit.copy()
    erased[np.abs((yy - cy) * np.cos(angle) - (xx - cx) * np.sin(angle)) < 1.0] = 0
    return erased


@pytest.mark.parametrize("index, degrees", [(25, 150), (71, 30), (126, 40)])
def test_a_ring_broken_into_two_arcs_is_one_digit_with_arcs_joined(templates, mnist, index, degrees):
    """A 0 broken on a slant line through its middle: two arcs side by side that overlap in x by most
    of their width, read as two digits ("88", "09", "49") unless `arcs` (a setting to compare) joins them."""
    images, classify = templates
    assert mnist.test_labels[index] == 0
    grey, _ = page_of({0: broken_ring(mnist.test_images[index], degrees)}, "0", [])
    assert _blobs(grey) == 2
    assert _read_with(grey, classify, arcs=True) == "0"
    assert len(_read_with(grey, classify, arcs=False)) == 2


def _blobs(grey) -> int:
    return preprocess.label_cells(preprocess.ink_image(grey) > 0.1)[1]


@pytest.mark.parametrize("digits, gaps", [("57", [0]), ("52", [-1]), ("257", [-1, -1])])
def test_a_digit_touching_its_neighbour_is_read_apart(templates, digits, gaps):
    """A digit touching the next (a 5's cap against a 7 or a 2): read as the digits written
    (the segmentation before digits could join part of a neighbouring group read 30, 376, 230)."""
    images, classify = templates
    grey, _ = page_of(images, digits, gaps)
    assert read(grey, classify).number == digits


@pytest.mark.parametrize("digits, gaps", [("680", [-1, -2]), ("445", [-2, -2]), ("131", [-1, -1])])
def test_touching_digits_are_cut_into_three(templates, digits, gaps):
    """Three digits overlapping by 1-2 MNIST pixels (one blob for 680 and 131): three digits, at their places."""
    images, classify = templates
    grey, boxes = page_of(images, digits, gaps)
    assert _blobs(grey) <= (2 if digits == "445" else 1)
    reading = read(grey, classify)
    assert reading.number == digits
    for found, true in zip((d.box for d in reading.digits), boxes):
        assert abs(found[0] - true[0]) + abs(found[2] - true[2]) <= 8 * SCALE, (found, true)


def _stretched(image: np.ndarray, factor: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((int(round(28 * factor)), 28), Image.Resampling.BILINEAR)) / 255.0


@pytest.mark.parametrize("digit", ["0", "5"])
def test_a_wide_digit_is_not_split(templates, digit):
    """A digit 1.5 times as wide as MNIST's, alone and beside another digit, stays one digit."""
    images, classify = templates
    wide = _stretched(images[int(digit)], 1.5)
    alone = 1.0 - np.kron(np.pad(wide, 10), np.ones((SCALE, SCALE)))
    assert read(alone, classify).number == digit
    page = np.zeros((48, wide.shape[1] + 60))
    page[10:38, 10:10 + wide.shape[1]] = wide
    page[10:38, wide.shape[1] + 14:wide.shape[1] + 42] = images[7] / 255.0
    assert read(1.0 - np.kron(page, np.ones((SCALE, SCALE))), classify).number == digit + "7"


@pytest.mark.parametrize("digit, factor", [(0, 2.0), (8, 1.5), (3, 1.5), (9, 2.0)])
def test_a_wide_digit_alone_on_the_page_is_one_digit(templates, digit, factor):
    """A digit alone is cut only when its parts read more surely than it (earlier segmentations
    read a 2x-wide 0 as 10, a 1.5x 8 as 88, a 1.5x 3 as 30 and a 2x 9 as 09)."""
    images, classify = templates
    wide = _stretched(images[digit], factor)
    assert read(1.0 - np.kron(np.pad(wide, 10), np.ones((SCALE, SCALE))), classify).number == str(digit)


def test_a_whole_group_of_more_than_span_units_is_a_candidate(templates):
    """However finely a wide digit is cut, the whole of it stays a candidate (runs of units stop at SPAN)."""
    images, classify = templates
    ink = preprocess.ink_image(1.0 - np.kron(np.pad(_stretched(images[0], 2.0), 10), np.ones((SCALE, SCALE))))
    segmenter = segment.Segmenter(ink, "wide", classify, cuts=8)
    groups, height = segmenter.row(segmenter.strokes_joined())
    units = segmenter.units(groups, height)
    assert len(groups) == 1 and len(units) > segment.SPAN
    assert (0, len(units)) in segmenter.candidates(units, groups, height)
    assert "".join(str(int(np.argmax(d.probabilities))) for d in segment.find_digits(ink, "wide", classify, cuts=8)) == "0"


def test_specks_a_comma_a_ruled_line_and_a_margin_line_are_no_digits(templates):
    images, classify = templates
    grey, boxes = page_of(images, "31", [40], size=(200, None))
    grey = grey.copy()
    rng = np.random.default_rng(1)
    for y, x in zip(rng.integers(0, grey.shape[0] - 3, 12), rng.integers(0, grey.shape[1] - 3, 12)):
        grey[y:y + 3, x:x + 3] = 0.2  # specks
    bottom = boxes[0][3]
    comma = (boxes[0][2] + boxes[1][0]) // 2
    grey[bottom - 12:bottom + 6, comma:comma + 7] = 0.1  # a comma between the digits
    grey[bottom - 30:bottom - 28, :] = 0.6  # a ruled line across the page
    grey[:, 6:8] = 0.5  # a margin line down it
    reading = read(grey, classify)
    assert reading.number == "31"


def test_predict_prints_a_number_and_json(templates, tmp_path, capsys, monkeypatch):
    images, classify = templates
    grey, _ = page_of(images, "2026", [6, 8, 5])
    Image.fromarray(np.uint8(np.round(grey * 255))).save(tmp_path / "year.png")
    grey, _ = page_of(images, "7", [])
    Image.fromarray(np.uint8(np.round(grey * 255))).save(tmp_path / "seven.png")
    monkeypatch.setattr("digitnet.serving.runtimes.load_predictor", lambda path: classify)
    files = [str(tmp_path / "year.png"), str(tmp_path / "seven.png"), str(tmp_path / "missing.png")]
    assert cli.run_command(predict.main, ["--model", "stub", *files]) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    year, seven = out.splitlines()
    assert year.startswith(f"{files[0]}: 2026 (") and len(year.split("(")[1].split()) == 4
    assert seven.startswith(f"{files[1]}: 7 (probability ")  # one digit prints as before
    assert "missing.png: file not found" in err
    assert cli.run_command(predict.main, ["--model", "stub", "--json", *files]) == cli.EXIT_USAGE
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("number") for r in records] == ["2026", "7", None]
    assert set(records[0]) == {"file", "number", "digits"} and set(records[2]) == {"file", "error"}
    for digit in records[0]["digits"]:
        assert set(digit) == {"digit", "confidence", "box", "probabilities"}
        assert len(digit["box"]) == 4 and len(digit["probabilities"]) == 10
        assert digit["confidence"] == max(digit["probabilities"])
        assert digit["digit"] == int(np.argmax(digit["probabilities"]))
    assert [d["box"][0] for d in records[0]["digits"]] == sorted(d["box"][0] for d in records[0]["digits"])


def test_the_rest_client_sends_one_row_per_digit(templates, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "export"))
    import rest_client

    images, classify = templates
    grey, _ = page_of(images, "2026", [6, 8, 5])
    Image.fromarray(np.uint8(np.round(grey * 255))).save(tmp_path / "year.png")
    body = rest_client.build_request([str(tmp_path / "year.png")], classify)
    rows = np.array(body["instances"])
    assert body["signature_name"] == "serving_default" and rows.shape == (4, 28, 28)
    assert [int(np.argmax(p)) for p in classify(rows.astype(np.uint8))] == [2, 0, 2, 6]
    reading = read(str(tmp_path / "year.png"), classify)
    assert rest_client.answer_line("year.png", reading.digits).startswith("year.png: 2026 (")


def _interlocked() -> np.ndarray:
    """Ink of two blocks offset like a 7's top and a 4's foot, joined by a thin diagonal link: every
    straight cut between them crosses a block, a cut that bends with the link crosses only it."""
    ink = np.zeros((70, 70))
    ink[10:25, 10:36] = 1.0  # upper block, columns 10-35
    ink[35:60, 28:54] = 1.0  # lower block, columns 28-53: overlapping the upper one in x
    for row in range(25, 35):  # the link, two cells wide, running down and right
        ink[row, 20 + row - 25:22 + row - 25] = 1.0
    return ink


def test_bent_cuts_separate_what_no_straight_cut_can_and_lose_no_ink(monkeypatch):
    ink = _interlocked()
    monkeypatch.setattr(segment, "WIDE_ALONE", 0.5)  # the one group is cut into units, as a pair would be
    upper, lower = np.zeros(ink.shape, bool), np.zeros(ink.shape, bool)
    upper[:30], lower[30:] = ink[:30] > 0, ink[30:] > 0
    for seam in (0.0, 0.3):
        segmenter = segment.Segmenter(ink, "interlocked", None, seam=seam)
        groups, height = segmenter.row(segmenter.strokes_joined())
        whole = segmenter.whole(groups[0])
        own = segmenter.mask(whole)
        top, bottom = np.flatnonzero(own.any(axis=1))[[0, -1]]
        paths = segmenter.cut_paths(whole, height)
        least = round(segment.PART_MIN * height)
        assert all((a <= b).all() and (b - a)[top:bottom + 1].max() >= least
                   for a, b in zip(paths[:-1], paths[1:]))  # never crossing, never a sliver apart
        if seam == 0:
            assert all((path == path[0]).all() for path in paths)  # straight
        columns = np.arange(own.shape[1])[None, :]
        # cuts with a block's worth of ink on each side: how much ink each crosses, and what it leaves astray
        splits = [(int(own[np.arange(len(path)), np.minimum(path, own.shape[1] - 1)].sum()),
                   int((own & (columns < path[:, None]) & lower).sum() + (own & (columns >= path[:, None]) & upper).sum()))
                  for path in paths
                  if min((own & (columns < path[:, None])).sum(), (own & (columns >= path[:, None])).sum()) >= 300]
        assert splits, (seam, paths)
        crossed, astray = min(splits)
        if seam == 0:
            assert crossed >= 15 and astray >= 100, splits
        else:
            assert crossed <= 3 and astray <= 10, splits  # astray: cells of the link only
        units = [unit for _, unit in segmenter.units(groups, height)]
        assert 2 <= len(units) <= len(paths) + 1  # a unit without ink is no unit
        masks = np.stack([segmenter.mask(unit) for unit in units])
        assert (masks.sum(axis=0) == own).all()  # every cell of ink in exactly one unit, along bent edges too
        if seam:
            bent = [unit for unit in units if any(len(set(segmenter.edges[e].tolist())) > 1 for e in unit.parts[0][1:])]
            assert bent  # the units' edges are the bent cuts themselves
