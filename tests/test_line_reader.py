"""The line reader: CTC's arithmetic against a brute-force count of paths and Keras' loss, the line
image, the segmenter's reading of a given count, recounting, and training through the one loop."""
import itertools
import json

import numpy as np
import pytest

from digitnet.core import ctc
from digitnet.core.errors import DataError
from digitnet.data.number_synth import make_number
from digitnet.experiments import line_reader
from digitnet.serving import line, preprocess, segment
from digitnet.serving.reading import grey_of


def _collapse(path) -> str:
    """A CTC path's reading, written out here rather than taken from the code under test."""
    out, previous = [], None
    for k in path:
        if k != previous and k != ctc.BLANK:
            out.append("?" if k == 11 else str(k - 1))  # class 11: ink that is no digit
        previous = k
    return "".join(out)


def test_encode_and_decode():
    assert list(ctc.encode("2026")) == [3, 1, 3, 7, 0, 0, 0, 0]
    assert ctc.decode(ctc.encode("90")) == "90"
    assert list(ctc.encode("2?6")) == [3, ctc.NOT_A_DIGIT, 7, 0, 0, 0, 0, 0] and ctc.decode(ctc.encode("?")) == "?"
    for bad in ("", "12a", "1" * (ctc.MAX_DIGITS + 1)):
        with pytest.raises(DataError, match=repr(bad).replace("(", r"\(")):
            ctc.encode(bad)


def test_greedy_merges_repeats_and_drops_blanks():
    path = [0, 3, 3, 0, 3, 1, 1, 0, 0]  # blank, 2, 2, blank, 2, 0, 0, blank, blank
    logits = np.full((len(path), 11), -5.0)
    logits[np.arange(len(path)), path] = 5.0
    assert ctc.greedy(logits) == "220"
    assert ctc.greedy(np.zeros((4, 11)) + np.eye(11)[0] * 3) == ""
    marked = np.full((3, ctc.CLASSES), -5.0)
    marked[[0, 1, 2], [ctc.NOT_A_DIGIT, ctc.BLANK, 8]] = 5.0
    assert ctc.greedy(marked) == "?7"


@pytest.mark.parametrize("number", ["", "1", "11", "10", "101", "?", "1?", "??"])
def test_log_probability_is_the_sum_over_every_path(number):
    """Every path of 5 steps over the blank, the digits 0-1 and the mark enumerated (4^5): the forward
    algorithm's probability is the total of those that read the number."""
    rng = np.random.default_rng(len(number))
    logits = rng.normal(size=(5, ctc.CLASSES))
    logits[:, 3:ctc.NOT_A_DIGIT] = -np.inf  # only the blank, 0-1 and the mark can be read
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    total = sum(np.prod([p[t, k] for t, k in enumerate(path)])
                for path in itertools.product((0, 1, 2, ctc.NOT_A_DIGIT), repeat=5) if _collapse(path) == number)
    assert ctc.log_probability(logits, number) == pytest.approx(np.log(total), rel=1e-9)
    if not number:
        assert total == pytest.approx(np.prod(p[:, 0]))  # the one path of blanks


def test_log_probability_is_keras_ctc_loss():
    from keras import ops

    from digitnet.models.tasks import ctc_loss

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 12, 11)).astype(np.float32)
    numbers = ["7", "3009", "4114"]
    labels = np.stack([ctc.encode(n) for n in numbers])
    losses = ops.convert_to_numpy(ctc_loss(labels, logits))
    ours = [-ctc.log_probability(row, n) for row, n in zip(logits, numbers)]
    np.testing.assert_allclose(losses, ours, rtol=1e-4)
    assert ctc.log_probability(logits[0, :2], "111") == -np.inf  # "111" needs 5 steps


def _number_ink(mnist, labels, gap=6.0, seed=0):
    picks = [int(np.flatnonzero(mnist.test_labels == d)[0]) for d in labels]
    photo, boxes = make_number(mnist.test_images[picks], (), np.random.default_rng(seed), noise=False,
                               gap=(gap, gap))
    return preprocess.ink_image(grey_of(photo, "number"), "number"), boxes


def test_the_line_is_the_row_scaled_into_the_line(mnist):
    ink, _ = _number_ink(mnist, [4, 0, 7])
    image = line.line_input(ink, "number")
    assert image.shape == line.LINE_SHAPE and image.dtype == np.uint8 and image.max() == 255
    rows, columns = np.nonzero(image > 0)
    assert columns.min() == line.MARGIN  # set from the left margin
    assert rows.max() - rows.min() + 1 >= line.LINE_HEIGHT - 2 * line.MARGIN - 1  # as high as fits
    assert columns.max() < line.LINE_WIDTH // 2  # three digits take well under half of the line
    with pytest.raises(DataError, match="blank: no digit found"):
        line.line_input(np.zeros((80, 200)), "blank")


def test_a_reading_of_its_own_count_is_the_reading_and_other_counts_are_that_many(mnist):
    from digitnet.serving.reading import piece_judge, predictor_of

    classify, judge = predictor_of(None), piece_judge()
    ink, _ = _number_ink(mnist, [3, 8, 1, 5], gap=-1.0)
    first = segment.find_digits(ink, "number", classify, judge)
    again = segment.find_digits(ink, "number", classify, judge, count=len(first))
    assert [d.box for d in again] == [d.box for d in first]
    found = {count: segment.find_digits(ink, "number", classify, judge, count=count) for count in (2, 3, 5)}
    assert all(digits is None or len(digits) == count for count, digits in found.items())
    assert found[3] is not None  # two of the four touching digits read as one
    assert len(segment.find_digits(ink, "number", classify, judge, count=1)) == 1
    assert segment.find_digits(ink, "number", classify, judge, count=40) is None


def test_a_segmenter_read_again_reads_as_a_new_one_and_classifies_only_new_pieces(mnist):
    """reading.read recounts with the segmenter that read the row first: its second reading (another
    count) is a fresh segmenter's, and the pieces both readings share are classified once."""
    from digitnet.serving.reading import pair_reader, piece_judge, predictor_of

    model = predictor_of(None)
    classified = []

    def classify(images):
        classified.append(len(images))
        return model(images)

    ink, _ = _number_ink(mnist, [3, 8, 1, 5], gap=-1.0)
    settings = {"one_digit": piece_judge(), "read_pair": pair_reader()}
    found = {}
    for count in (3, 2, 5):
        classified.clear()
        fresh = segment.Segmenter(ink, "number", classify, **settings).find(count)
        alone = sum(classified)
        segmenter = segment.Segmenter(ink, "number", classify, **settings)
        first = segmenter.find()
        classified.clear()
        again = segmenter.find(count)
        assert (again is None) == (fresh is None), count
        found[count] = again
        if fresh is not None:
            assert [d.box for d in again] == [d.box for d in fresh], count
            np.testing.assert_array_equal([d.probabilities for d in again], [d.probabilities for d in fresh])
        assert sum(classified) < alone / 4, (count, sum(classified), alone)
    assert len(first) == 4 and [len(found[count]) for count in (3, 2, 5)] == [3, 2, 5]


class _Digit:
    def __init__(self, digit):
        self.probabilities = np.eye(10)[digit]


def _logits_reading(number: str, steps: int = 16) -> np.ndarray:
    logits = np.full((steps, 11), -4.0)
    logits[:, ctc.BLANK] = 4.0
    for index, digit in enumerate(number):
        logits[2 * index + 1] = -4.0
        logits[2 * index + 1, int(digit) + 1] = 4.0
    return logits


def test_recount_takes_the_line_readers_count():
    digits = [_Digit(4), _Digit(3)]  # the segmenter lost a 1: "431"
    asked = []

    def read_count(count):
        asked.append(count)
        return [_Digit(4), _Digit(3), _Digit(1)] if count == 3 else None

    assert line.number_of(line.recount(digits, _logits_reading("431"), read_count)) == "431"
    assert line.number_of(line.recount(digits, _logits_reading("43"), read_count)) == "43"  # same count
    assert line.number_of(line.recount(digits, _logits_reading(""), read_count)) == "43"  # no count read
    assert line.number_of(line.recount(digits, _logits_reading("4311"), read_count)) == "43"  # no such reading
    assert asked == [3, 4]
    # "likelier": a recount that differs from the line's reading by one digit is likelier than a
    # reading that lacks a digit, so it is kept ...
    assert line.number_of(line.recount(digits, _logits_reading("491"), read_count, "likelier")) == "431"
    # ... and one that gets every digit wrong is not, where "count" takes it all the same.
    eights = [_Digit(8), _Digit(8)]
    fours = lambda count: [_Digit(4)] * count  # noqa: E731
    assert line.number_of(line.recount(eights, _logits_reading("888"), fours, "likelier")) == "88"
    assert line.number_of(line.recount(eights, _logits_reading("888"), fours, "count")) == "444"
    # "likelier-2": as "likelier", but a row the segmenter reads as one digit or none keeps its reading.
    one = [_Digit(4)]
    assert line.number_of(line.recount(one, _logits_reading("43"), fours, "likelier")) == "44"
    assert line.number_of(line.recount(one, _logits_reading("43"), fours, "likelier-2")) == "4"
    assert line.number_of(line.recount([], _logits_reading("43"), fours, "likelier-2")) == ""
    assert line.number_of(line.recount(digits, _logits_reading("491"), read_count, "likelier-2")) == "431"
    assert line.number_of(line.recount(eights, _logits_reading("888"), fours, "likelier-2")) == "88"
    with pytest.raises(ValueError, match="'often'"):
        line.recount(eights, _logits_reading("1"), read_count, "often")


def test_spelled_recount_reads_the_row_again_as_the_line_readers_number():
    digits = [_Digit(6), _Digit(2), _Digit(1), _Digit(0)]  # a 0 and a 2 cut in the wrong column: "6210"
    asked = []

    def read_count(count, spelling=None):
        asked.append((count, spelling))
        if spelling is None:
            return None  # no reading of another count
        return [_Digit(int(d)) for d in spelling.replace("5", "8")]  # the classifier reads a 5 as an 8

    # The line reader reads "0210": the row read again as "0210" is kept, being likelier.
    assert line.number_of(line.recount(digits, _logits_reading("0210"), read_count, "spelled")) == "0210"
    assert asked == [(4, "0210")]
    # "likelier" never asks for a spelling.
    assert line.number_of(line.recount(digits, _logits_reading("0210"), read_count, "likelier")) == "6210"
    # A reading of the spelling that the classifier reads otherwise and the line reader finds no
    # likelier is not kept; nor is anything where the line reader reads the number as it is.
    assert line.number_of(line.recount(digits, _logits_reading("6215"), read_count, "spelled")) == "6210"
    asked.clear()
    assert line.number_of(line.recount(digits, _logits_reading("6210"), read_count, "spelled")) == "6210"
    assert asked == []
    # A place the line reader reads as no digit: no spelling is asked for.
    marked = np.concatenate([_logits_reading("0210"), np.full((16, 1), -4.0)], axis=1)
    marked[1] = -4.0
    marked[1, ctc.NOT_A_DIGIT] = 4.0
    assert ctc.greedy(marked) == "?210"
    assert line.number_of(line.recount(digits, marked, read_count, "spelled")) == "6210"
    assert asked == []
    # A spelling of another count: "likelier" comes first, then the spelling.
    two = [_Digit(4), _Digit(3)]
    counted = lambda count, spelling=None: [_Digit(int(d)) for d in (spelling or "9" * count)]  # noqa: E731
    assert line.number_of(line.recount(two, _logits_reading("431"), counted, "likelier")) == "43"
    assert line.number_of(line.recount(two, _logits_reading("431"), counted, "spelled")) == "431"


def test_a_spelled_reading_of_the_segmenters_own_number_is_its_reading(mnist):
    """Valued by the probability of the digit in each place, the segmenter's own reading is worth what
    it was worth and no other run of the units is worth more: spelled as itself, it reads the same."""
    from digitnet.serving.reading import pair_reader, piece_judge, predictor_of

    ink, _ = _number_ink(mnist, [3, 8, 1, 5], gap=-1.0)
    segmenter = segment.Segmenter(ink, "number", predictor_of(None), piece_judge(), read_pair=pair_reader())
    first = segmenter.find(4)
    again = segmenter.find(spelling=line.number_of(first))
    assert [d.box for d in again] == [d.box for d in first]
    other = segmenter.find(spelling="7" + line.number_of(first)[1:])
    assert other is not None and len(other) == 4
    for wrong in ("", "38a5", "3815", "٣٨١٥"):
        with pytest.raises(ValueError, match=repr(wrong)):
            segmenter.find(count=3 if wrong == "3815" else None, spelling=wrong)


def test_lines_batch_with_their_labels_in_order():
    from digitnet.data.pipeline import make_dataset
    from digitnet.models.tasks import SEQUENCE

    images = np.arange(5 * 4 * 6, dtype=np.uint8).reshape(5, 4, 6)
    labels = np.stack([ctc.encode(str(n) * (n % 3 + 1)) for n in range(5)])
    batches = list(make_dataset(images, labels, SEQUENCE, 2))
    assert [b[1].shape.as_list() for b in batches] == [[2, 8], [2, 8], [1, 8]]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), labels)
    np.testing.assert_allclose(np.concatenate([b[0].numpy() for b in batches])[..., 0], images / 255.0, rtol=1e-6)


def test_trains_through_the_loop_resumes_and_exports(tmp_path):
    from digitnet.serving.runtimes import load_predictor

    tiny = {"widths": (4, 4, 4, 4), "units": 8}
    counts = {"train": 30, "fit": 10}
    result, model = line_reader.train_line_reader(tmp_path / "run", tmp_path / "cache", epochs=2, counts=counts,
                                                  verbose=0, build=tiny)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["task"] == "sequence" and np.isfinite(metrics["test"]["loss"])
    assert metrics["train_examples"] >= 25 and metrics["test_examples"] >= 8  # a photo may hold no row
    for name in ("history.csv", "model.keras", "line_readings.png", "all_losses.png"):
        assert (tmp_path / "run" / name).is_file(), name
    again, _ = line_reader.train_line_reader(tmp_path / "run", tmp_path / "cache", epochs=2, counts=counts,
                                             verbose=0, build=tiny)
    assert again.reused
    lines, labels = line_reader.line_set("fit", tmp_path / "cache", counts["fit"])
    assert lines.shape[1:] == line.LINE_SHAPE and [ctc.decode(label) for label in labels][0].isdigit()
    path = line_reader.save_tflite(model, tmp_path / "line_reader.tflite")
    np.testing.assert_allclose(load_predictor(path)(lines[:3]),
                               model.predict(lines[:3, ..., None].astype(np.float32) / 255.0, verbose=0), atol=1e-5)


def test_read_follows_the_line_readers_count(mnist, monkeypatch):
    """reading.read asks the line reader (here one that always reads two digits) and, under the
    "count" rule, reads a row of three digits just apart again as two; without it, or with
    read_lines=False, the three stay."""
    from digitnet.serving import reading

    monkeypatch.setattr(reading, "RECOUNT", "count")

    ink_photo, _ = make_number(mnist.test_images[[3, 2, 1]], (), np.random.default_rng(0), noise=False, gap=(0.0, 0.0))
    lines = []

    def two_digits(images):
        lines.extend(images)
        return _logits_reading("11")[None]

    monkeypatch.setattr(reading, "line_reader", lambda: None)
    assert len(reading.read(ink_photo).number) == 3
    monkeypatch.setattr(reading, "line_reader", lambda: two_digits)
    assert len(reading.read(ink_photo, read_lines=False).number) == 3 and not lines
    assert len(reading.read(ink_photo).number) == 2
    assert len(lines) == 1 and lines[0].shape == line.LINE_SHAPE


def test_the_line3_rule_leaves_out_what_a_guard_rejects_then_takes_the_highest_total():
    from digitnet.experiments.line_selection import choose_among_guarded

    totals = {"segmenter": 100, "likelier": 120, "likelier-2": 110}
    letters = {"segmenter": 50, "likelier": 44, "likelier-2": 46}  # likelier: 6 fewer, over the tie of 5
    alone = {"segmenter": 90, "likelier": 95, "likelier-2": 90}
    assert choose_among_guarded(totals, letters, alone, tie=5) == "likelier-2"
    assert choose_among_guarded(totals, {**letters, "likelier": 45}, alone, tie=5) == "likelier"
    assert choose_among_guarded({**totals, "likelier-2": 105}, letters, alone, tie=5) == "segmenter"  # within the tie
    assert choose_among_guarded(totals, letters, {**alone, "likelier-2": 80}, tie=5) == "segmenter"  # both left out


def test_the_line4_rule_also_leaves_out_a_candidate_that_loses_single_photos():
    from digitnet.experiments.line_selection import RULES, choose_among_guarded
    from digitnet.experiments.piece_judge_selection import ALONE, LETTERS, SINGLES

    rule = RULES["line4"]
    assert rule.guards == (LETTERS, ALONE, SINGLES) and rule.choose is choose_among_guarded
    totals = {"segmenter": 100, "likelier": 120, "likelier-2": 110}
    letters = {"segmenter": 50, "likelier": 60, "likelier-2": 52}
    alone = {"segmenter": 90, "likelier": 95, "likelier-2": 96}
    singles = {"segmenter": 2990, "likelier": 2984, "likelier-2": 2990}  # likelier: 6 fewer, over the tie of 5
    assert rule.choose(totals, letters, alone, singles, tie=5) == "likelier-2"
    assert rule.choose(totals, letters, alone, {**singles, "likelier": 2985}, tie=5) == "likelier"


def test_single_photos_are_seeded_validation_digits_one_to_a_photo():
    from digitnet.experiments.piece_judge_selection import single_photo_set

    first, again = single_photo_set(3, "line4"), single_photo_set(3, "line4")
    assert [number for _, number in first] == [number for _, number in again]
    assert all(len(number) == 1 and number.isdigit() for _, number in first)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again))
    with pytest.raises(ValueError, match="line3"):
        single_photo_set(3, "line3")
