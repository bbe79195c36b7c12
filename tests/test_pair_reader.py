"""The pair reader: its labels, its place in the segmenter's lattice, its file and its training."""
from __future__ import annotations

import numpy as np
import pytest

from digitnet.experiments import pair_reader
from digitnet.experiments.detector import build_detector, save_weights
from digitnet.serving import preprocess, segment
from tests.test_reading import page_of, templates  # noqa: F401  (the fixture)

BOXES = [(0, 0, 20, 30), (18, 2, 38, 30), (50, 0, 70, 30), (80, 0, 100, 30)]  # "4172": 4 and 1 overlap


@pytest.mark.parametrize("box, label", [
    ((0, 0, 38, 30), 41),                 # all of the 4 and the 1
    ((48, 0, 101, 30), 72),               # the 7 and the 2 across their gap
    ((0, 0, 20, 30), segment.NOT_A_PAIR),  # the 4 alone
    ((50, 0, 60, 30), segment.NOT_A_PAIR),  # half of the 7
    ((0, 0, 70, 30), segment.NOT_A_PAIR),  # three digits
    ((0, 0, 28, 30), None),               # the 4 and half of the 1: neither
    ((0, 0, 38, 8), None),                # the pair's columns but a sliver of its rows
])
def test_pieces_are_labelled_by_the_digits_they_cover(box, label):
    assert pair_reader.label_pair(box, BOXES, "4172") == label


def stub_pair_reader(pair: int, probability: float):
    """Reads every piece as `pair` with `probability`, the rest going to 'not a pair'."""
    def read_pair(images: np.ndarray) -> np.ndarray:
        out = np.zeros((len(images), segment.PAIR_CLASSES))
        out[:, pair], out[:, segment.NOT_A_PAIR] = probability, 1 - probability
        return out
    return read_pair


def _digits(grey, classify, read_pair=None):
    ink = preprocess.ink_image(grey)
    return segment.find_digits(ink, "page", classify, None, read_pair=read_pair)


def test_a_sure_pair_reads_an_overlapping_pair_as_two_digits(templates):  # noqa: F811
    images, classify = templates
    grey, boxes = page_of(images, "4085", [6, -6, 6])  # the 0 and the 8 cross by 6 MNIST pixels
    found = _digits(grey, classify, stub_pair_reader(8, 0.99))  # a pair reader sure of "08"
    assert "".join(str(int(np.argmax(d.probabilities))) for d in found) == "4085"
    zero, eight = found[1], found[2]
    # the pair's conditionals, exactly one-hot for this reader: the classifier gives no such probabilities
    np.testing.assert_array_equal(zero.probabilities, np.eye(10)[0])
    np.testing.assert_array_equal(eight.probabilities, np.eye(10)[8])
    for digit, value in ((zero, 0), (eight, 8)):
        assert digit.image.shape == (28, 28) and digit.image.dtype == np.uint8 and digit.image.max() > 0
        # the cut is the one whose sides read as the pair's digits: each side's own input reads so
        assert int(np.argmax(classify(digit.image[None])[0])) == value
    # the two boxes lie within the pair's ink, side by side, the cut between them
    assert boxes[1][0] - 8 <= zero.box[0] < eight.box[0] and zero.box[2] <= eight.box[2] <= boxes[2][2] + 8
    assert zero.box[2] <= eight.box[0] + 1


def test_a_pair_reads_as_its_likeliest_pair_not_as_its_marginals(templates):  # noqa: F811
    """P(17) .40, P(71) .30, P(77) .30: the marginals' best digits make 77, which the reader finds less
    likely than 17; the two digits of the pair read 17."""
    images, classify = templates
    grey, _ = page_of(images, "4085", [6, -6, 6])
    segmenter = segment.Segmenter(preprocess.ink_image(grey), "page", classify, None,
                                  read_pair=stub_pair_reader(8, 0.99))
    groups, height = segmenter.row(segmenter.strokes_joined())
    everything = np.isin(segmenter.labels, [label for g in groups for label in g])
    path = segmenter.best_path(segmenter.units(groups, height), groups, height, everything)
    (piece, _), = [(p, pair) for p, pair in path if pair is not None]  # the 0 and the 8, read as a pair
    pair = np.zeros(segment.PAIR_CLASSES)
    pair[[17, 71, 77]] = [0.40, 0.30, 0.30]
    first, second = segmenter.split_pair(piece, pair, height, everything)
    assert (int(np.argmax(first.probabilities)), int(np.argmax(second.probabilities))) == (1, 7)
    np.testing.assert_allclose(first.probabilities[[1, 7]], [0.40 / 0.70, 0.30 / 0.70])  # P(x, 7) over x
    np.testing.assert_allclose(second.probabilities, np.eye(10)[7])  # P(1, x) over x: only P(1, 7) is not 0


def test_a_wide_field_keeps_the_height_of_a_piece_twice_as_wide_as_high():
    """A crop 30 high and 60 wide: in the 28x28 field it shrinks to 10 rows (its longer side to 20); in
    the 28x56 field it keeps 20 rows and 40 columns, its centre of mass within half a pixel of (14, 28), as a digit's of (14, 14)."""
    crop = np.zeros((30, 60))
    crop[:, :25] = crop[:, 35:] = 1.0
    narrow, wide = preprocess.to_field(crop), preprocess.to_field(crop, width=56)
    np.testing.assert_array_equal(narrow, preprocess.to_field(crop, width=28))
    rows, columns = (np.flatnonzero(wide.max(axis=axis) > 0) for axis in (1, 0))
    assert wide.shape == (28, 56) and wide.dtype == np.uint8
    assert len(rows) == 20 and columns[-1] + 1 - columns[0] == 40
    ys, xs = np.indices(wide.shape)
    assert abs((xs * wide).sum() / wide.sum() - 28) <= 0.5 and abs((ys * wide).sum() / wide.sum() - 14) <= 0.5
    assert (narrow.max(axis=1) > 0).sum() == 10


def test_a_reader_of_wide_fields_gets_each_piece_in_its_width(templates):  # noqa: F811
    """Each piece reaches a reader of 56-wide fields as its own crop in that field, the crop whose
    28x28 input the classifier reads; the digits found are read as any digit."""
    images, classify = templates
    grey, _ = page_of(images, "4085", [6, -6, 6])
    seen = []

    def read_pair(batch):
        seen.append(batch)
        return stub_pair_reader(8, 0.99)(batch)

    read_pair.width = 56
    segmenter = segment.Segmenter(preprocess.ink_image(grey), "page", classify, None, read_pair=read_pair)
    found = segmenter.digits()
    assert "".join(str(int(np.argmax(d.probabilities))) for d in found) == "4085"
    assert seen and all(batch.shape[1:] == (28, 56) for batch in seen)
    wide = {preprocess.to_input(crop, 56).tobytes() for crop in segmenter.crops.values()}
    assert all(row.tobytes() in wide for batch in seen for row in batch)
    for piece, crop in segmenter.crops.items():
        np.testing.assert_array_equal(preprocess.to_input(crop), segmenter.prepared[piece][0])
    assert all(d.image.shape == (28, 28) for d in found)


@pytest.mark.parametrize("width", [28, 56, 84])
def test_a_pair_readers_field_width_is_read_from_its_weights(tmp_path, width):
    path = save_weights(build_detector(classes=segment.PAIR_CLASSES, width=width), tmp_path / "pairs.npz")
    assert segment.load_pair_reader(path).width == width


def test_a_detector_of_no_field_is_refused():
    from digitnet.serving.judge import Detector

    weights = {key: value for key, value in Detector.load(segment.PAIR_READER_FILE).weights.items()}
    weights["dense1/kernel"] = weights["dense1/kernel"][:1000]
    with pytest.raises(ValueError, match="dense layer with 1000 inputs reads no field 28 high"):
        segment.field_width(Detector(weights))


def test_an_unsure_pair_reader_changes_nothing(templates):  # noqa: F811
    images, classify = templates
    grey, _ = page_of(images, "4035", [6, -4, 6])
    without = [d.box for d in _digits(grey, classify)]
    assert [d.box for d in _digits(grey, classify, stub_pair_reader(3, 0.01))] == without


def test_pairs_are_offered_only_for_wide_pieces_of_one_group(templates):  # noqa: F811
    """Narrow pieces and runs across gaps never reach the pair reader: three 1s, each much narrower
    than high, close enough for runs of them to be candidates as wide as a digit."""
    images, classify = templates
    grey, _ = page_of(images, "111", [4, 4])
    seen = []

    def read_pair(batch):
        seen.append(len(batch))
        return stub_pair_reader(11, 0.99)(batch)

    found = _digits(grey, classify, read_pair)
    assert "".join(str(int(np.argmax(d.probabilities))) for d in found) == "111"
    assert seen == []


def test_a_file_of_another_shape_is_refused_with_its_name(tmp_path):
    path = save_weights(build_detector(), tmp_path / "judge.npz")  # eleven outputs: a piece judge
    with pytest.raises(ValueError, match=r"judge\.npz: a pair reader has 101 outputs, this file has 11"):
        segment.load_pair_reader(path)


@pytest.mark.slow
def test_a_run_folder_of_another_field_width_is_refused(tmp_path):
    from digitnet.core.errors import DataError

    counts = {"train": {"pieces": 1, "pairs": 4}, "fit": {"pieces": 1, "pairs": 2}}
    pair_reader.train_pair_reader(tmp_path / "run", str(tmp_path / "cache"), epochs=1, counts=counts, verbose=0)
    with pytest.raises(DataError, match=r"holds a pair reader of fields 28 wide, asked for 56"):
        pair_reader.train_pair_reader(tmp_path / "run", str(tmp_path / "cache"), epochs=1, counts=counts, verbose=0,
                                      width=56)


@pytest.mark.slow
@pytest.mark.parametrize("width", [28, 56])
def test_trains_through_the_loop_and_reads_as_keras_does(tmp_path, width):
    counts = {"train": {"pieces": 3, "pairs": 8}, "fit": {"pieces": 2, "pairs": 3}}
    result, model = pair_reader.train_pair_reader(tmp_path / "run", str(tmp_path / "cache"), epochs=1,
                                                  counts=counts, verbose=0, width=width)
    assert (result.output_dir / "history.csv").is_file()
    tag = "" if width == 28 else f"_w{width}"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        f"pairs_fit_0_3{tag}.npz", f"pairs_train_0_8{tag}.npz", f"pieces_fit_0_2_coarse30_tight30{tag}.npz",
        f"pieces_train_0_3_coarse30_tight30{tag}.npz"]
    images, labels = pair_reader.pair_set("train", str(tmp_path / "cache"), counts["train"], width=width)
    assert images.shape[1:] == (28, width)
    assert (labels < segment.NOT_A_PAIR).sum() >= 6  # most of the 8 two-digit numbers give their pair
    read_pair = segment.load_pair_reader(save_weights(model, tmp_path / "pairs.npz"))
    assert read_pair.width == width
    probabilities = read_pair(images[:5])
    keras_p = model.predict(images[:5, ..., None].astype("float32") / 255.0, verbose=0)
    assert probabilities.shape == (5, segment.PAIR_CLASSES)
    np.testing.assert_allclose(probabilities, keras_p, atol=2e-3)  # float16 weights in the file



def test_a_stretched_digit_is_wider_by_the_factor_within_the_field(mnist):
    digit = mnist.test_images[0]  # a 7
    columns = np.flatnonzero(digit.max(axis=0) > 0)
    width = columns[-1] + 1 - columns[0]
    wide = pair_reader.stretched(digit, 1.5)
    wide_columns = np.flatnonzero(wide.max(axis=0) > 0)
    assert wide.shape == (28, 28) and wide.dtype == np.uint8
    assert wide_columns[-1] + 1 - wide_columns[0] == min(28, round(1.5 * width))
    np.testing.assert_array_equal(wide.max(axis=1) > 0, digit.max(axis=1) > 0)  # the same rows
    assert pair_reader.stretched(digit, 9.0).max(axis=0).astype(bool).sum() == 28  # never wider than the field


def test_wide_numbers_are_seeded_and_some_digits_are_wide():
    first, again = pair_reader.wide_numbers("fit", 0, 12), pair_reader.wide_numbers("fit", 0, 12)
    assert [n for _, n, _ in first] == [n for _, n, _ in again]
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for (a, _, _), (b, _, _) in zip(first, again))
    assert {len(n) for _, n, _ in first} <= {1, 2, 3}
    aspects = [(right - left) / (bottom - top) for _, _, boxes in first for left, top, right, bottom in boxes]
    assert max(aspects) > 1.1  # MNIST's digits are narrower than high; stretched ones need not be


@pytest.mark.parametrize("pair_alone", [False, True])
def test_a_lone_touching_pair_is_read_as_a_pair_only_with_pair_alone(templates, pair_alone):  # noqa: F811
    """Two touching digits alone on the page make one group too narrow to be cut: one unit, read as
    one digit unless lone groups go through the lattice, where a sure pair reader reads them."""
    images, classify = templates
    grey, _ = page_of(images, "10", [-2])
    ink = preprocess.ink_image(grey)
    narrow = 1.4  # a "10" this tight is 1-1.4 row heights wide: not cut at 1.4 (WIDE_ALONE), cut at 1.0
    segmenter = segment.Segmenter(ink, "page", classify, wide_alone=narrow)
    groups, height = segmenter.row(segmenter.strokes_joined())
    assert len(segmenter.units(groups, height)) == 1  # one group, not cut
    found = segment.find_digits(ink, "page", classify, None, read_pair=stub_pair_reader(10, 0.99),
                                pair_alone=pair_alone, wide_alone=narrow)
    if pair_alone:
        assert "".join(str(int(np.argmax(d.probabilities))) for d in found) == "10"
    else:
        assert len(found) == 1


@pytest.mark.parametrize("setting, whole, pair, digits", [
    # the piece judge takes the lone "10" for no whole digit (0.01), the pair reader for the pair 10 with 0.4
    # ("not a pair" 0.6): the pair is worth more than the digit, unless pair_sure asks the pair reader to find
    # the pair likelier than "not a pair"
    ("pair_sure", 0.01, 0.4, {False: 2, True: 1}),
    # the piece judge takes it for one whole digit (0.99), the pair reader for the pair with 0.6: the digit is
    # worth more than the pair (0.6 x DIGIT squared), unless the veto multiplies it by P(not a pair), 0.4
    ("pair_veto", 0.99, 0.6, {False: 1, True: 2}),
])
@pytest.mark.parametrize("on", [False, True])
def test_the_pair_settings_decide_between_a_lone_pair_and_one_digit(templates, setting, whole, pair, digits,  # noqa: F811
                                                                     on):
    images, classify = templates
    grey, _ = page_of(images, "10", [-2])
    ink = preprocess.ink_image(grey)
    found = segment.find_digits(ink, "page", classify, lambda inputs: np.full(len(inputs), whole),
                                read_pair=stub_pair_reader(10, pair), pair_alone=True, wide_alone=1.4, **{setting: on})
    assert len(found) == digits[on]


def test_a_lone_touching_pair_wider_than_wide_alone_is_cut_and_read_as_two_digits(templates):  # noqa: F811
    """wide_alone 1.0 (the candidate of reports/number_reading.md's lone-group rule) cuts a tight "10" alone
    on the page, which WIDE_ALONE 1.4 leaves whole (the test above)."""
    images, classify = templates
    grey, _ = page_of(images, "10", [-2])
    ink = preprocess.ink_image(grey)
    segmenter = segment.Segmenter(ink, "page", classify, wide_alone=1.0)
    groups, height = segmenter.row(segmenter.strokes_joined())
    assert len(groups) == 1 and len(segmenter.units(groups, height)) >= 2
    found = segment.find_digits(ink, "page", classify, None, wide_alone=1.0)
    assert "".join(str(int(np.argmax(d.probabilities))) for d in found) == "10"


@pytest.mark.parametrize("flags, words", [(["--units", "0"], "--pairs and --units must be whole numbers from 1, received 4000 and 0"),
                                          (["--wide", "-1"], "--wide must be a whole number from 0, received -1"),
                                          (["--jobs", "0"], "--jobs must be a whole number from 1, received 0"),
                                          (["--field", "30"], "--field must be a multiple of 28 up to 280, received 30"),
                                          (["--field", "308"], "--field must be a multiple of 28 up to 280, received 308")])
def test_bad_flags_are_refused_before_any_work(tmp_path, flags, words):
    from digitnet.core.errors import DataError

    with pytest.raises(DataError, match=words):
        pair_reader.main(["--save", str(tmp_path / "p.npz"), "--output-dir", str(tmp_path / "run"), *flags])
    assert not (tmp_path / "run").exists()


def test_the_dense_layer_takes_the_units_asked_for():
    model = pair_reader.pair_spec(32).build()
    assert model.get_layer("dense1").units == 32 and model.output_shape == (None, segment.PAIR_CLASSES)


LETTER_BOXES = [(0, 0, 20, 30), (18, 2, 40, 30), (42, 0, 62, 30)]  # "4?2": a letter touching the 4


@pytest.mark.parametrize("box, label", [
    ((0, 0, 40, 30), segment.NOT_A_PAIR),  # the 4 and the letter: never a pair of digits
    ((18, 2, 62, 30), segment.NOT_A_PAIR),  # the letter and the 2
    ((18, 2, 40, 30), segment.NOT_A_PAIR),  # the letter alone
    ((0, 0, 20, 30), segment.NOT_A_PAIR),  # the 4 alone
])
def test_a_piece_with_much_of_a_letter_is_not_a_pair(box, label):
    assert pair_reader.label_pair(box, LETTER_BOXES, "4?2") == label


def test_two_digits_beside_a_letter_are_still_a_pair():
    boxes = [(0, 0, 20, 30), (18, 2, 38, 30), (60, 0, 80, 30)]  # "41?": the 4 and the 1 overlap, the letter apart
    assert pair_reader.label_pair((0, 0, 38, 30), boxes, "41?") == 41
    assert pair_reader.label_pair((0, 0, 80, 30), boxes, "41?") == segment.NOT_A_PAIR


def test_the_piece_judge_labels_a_letter_not_a_digit_and_the_digits_beside_it_as_digits():
    from digitnet.experiments import piece_judge

    assert piece_judge.label_piece((18, 2, 40, 30), LETTER_BOXES, "4?2") == piece_judge.NOT_A_DIGIT_CLASS
    assert piece_judge.label_piece((42, 0, 62, 30), LETTER_BOXES, "4?2") == 2


def test_letter_numbers_are_seeded_and_hold_one_letter_each_with_its_box():
    first, again = pair_reader.letter_numbers("fit", 0, 8), pair_reader.letter_numbers("fit", 0, 8)
    assert [n for _, n, _ in first] == [n for _, n, _ in again]
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for (a, _, _), (b, _, _) in zip(first, again))
    for _, number, boxes in first:
        assert len(number) in pair_reader.LETTER_LENGTHS and number.count("?") == 1 and len(boxes) == len(number)
        assert number.replace("?", "").isdigit()
    assert [n for _, n, _ in pair_reader.letter_numbers("fit", 1, 8)] != [n for _, n, _ in first]


def test_a_shard_of_letter_numbers_keeps_the_letter_through_its_arrays():
    """candidates_of stores a letter as NOT_A_DIGIT_CODE and shard_labels reads it back as the mark, so that
    every candidate that is mostly the letter is "not a pair" and none is labelled a pair across it."""
    from digitnet.experiments import piece_judge

    written = pair_reader.letter_numbers("fit", 0, 6)
    shard = piece_judge.candidates_of(written, max(pair_reader.LETTER_LENGTHS))
    for index, (_, number, _) in enumerate(written):
        stored = shard["digits"][index, :len(number)]
        assert "".join("?" if d == piece_judge.NOT_A_DIGIT_CODE else str(d) for d in stored) == number
    labels = pair_reader.shard_pair_labels(shard)
    on_letter = 0
    for box, owner, label in zip(shard["boxes"], shard["number"], labels):
        number, boxes = written[owner][1], written[owner][2]
        left, _, right, _ = boxes[number.index("?")]
        covered = max(0, min(box[2], right) - max(box[0], left)) / max(1, right - left)
        if covered >= piece_judge.PART_OF_OTHER:  # much of the letter: "not a pair", whatever else it holds
            on_letter += 1
            assert label == segment.NOT_A_PAIR, (number, box, label)
    assert on_letter > 0
