"""The piece judge: how its examples are labelled, that they are the segmenter's own candidates,
that it trains through the loop, and that number reading weighs its cuts with it."""
import numpy as np
import pytest

from digitnet.core.errors import DataError
from digitnet.data.coarse import coarse
from digitnet.data.number_synth import make_number, number_set
from digitnet.experiments.reading_sets import split_digits
from digitnet.experiments import piece_judge
from digitnet.serving import preprocess, segment
from digitnet.serving.judge import NOT_A_DIGIT_CLASS
from digitnet.serving.reading import grey_of


def test_label_piece_by_columns():
    boxes = [(0, 0, 10, 10), (20, 0, 30, 10)]
    assert piece_judge.label_piece((0, 0, 10, 10), boxes, "47") == 4
    assert piece_judge.label_piece((20, 0, 29, 10), boxes, "47") == 7  # 0.9 of the 7's columns
    assert piece_judge.label_piece((0, 0, 30, 10), boxes, "47") == NOT_A_DIGIT_CLASS  # both
    assert piece_judge.label_piece((0, 0, 4, 10), boxes, "47") == NOT_A_DIGIT_CLASS  # a part of the 4
    assert piece_judge.label_piece((0, 0, 7, 10), boxes, "47") is None  # 0.7: left out
    assert piece_judge.label_piece((0, 0, 10, 4), boxes, "47") is None  # the 4's columns, a third of its rows
    # a thin 1 overlapping an 8: the 8 with the 1 is two digits, each alone is one
    boxes = [(0, 0, 20, 10), (18, 0, 24, 10)]
    assert piece_judge.label_piece((0, 0, 24, 10), boxes, "81") == NOT_A_DIGIT_CLASS
    assert piece_judge.label_piece((0, 0, 18, 10), boxes, "81") == 8
    assert piece_judge.label_piece((18, 0, 24, 10), boxes, "81") == 1


def _touching_pair(mnist, first: int, second: int, seed: int = 0):
    """A clean photo of two MNIST training digits of the given classes, their ink overlapping."""
    a = int(np.flatnonzero(mnist.train_labels == first)[0])
    b = int(np.flatnonzero(mnist.train_labels == second)[0])
    return make_number(mnist.train_images[[a, b]], (), np.random.default_rng(seed), noise=False), f"{first}{second}"


def test_candidates_are_what_the_reading_scores(mnist, monkeypatch):
    """candidate_inputs prepares each candidate exactly as score does before classifying it."""
    monkeypatch.setattr("digitnet.data.number_synth.GAP", (-2.0, -2.0))
    (photo, boxes), number = _touching_pair(mnist, 4, 9)
    ink = preprocess.ink_image(grey_of(photo, "pair"), "pair")
    candidates = segment.Segmenter(ink, "pair", None).candidate_inputs()
    assert len(candidates) >= 3  # the pair, and parts of it

    seen = []

    def classify(images):
        seen.extend(images)
        return np.full((len(images), 10), 0.1)

    segment.find_digits(ink, "pair", classify)
    scored = {image.tobytes() for image in seen}
    assert {image.tobytes() for image, _ in candidates} == scored


def test_a_touching_pair_gives_both_digits_and_the_pair_as_examples(mnist, monkeypatch):
    monkeypatch.setattr("digitnet.data.number_synth.GAP", (-2.0, -2.0))
    (photo, boxes), number = _touching_pair(mnist, 4, 9)
    images, found = piece_judge.labelled_pieces(photo, number, boxes)
    assert len(images) == len(found) > 0
    assert all(image.shape == (28, 28) and image.dtype == np.uint8 for image in images)
    labels = [piece_judge.label_piece(box, boxes, number) for box in found]
    assert {4, 9, NOT_A_DIGIT_CLASS} <= set(labels)
    left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
    for box, label in zip(found, labels):
        if box[0] <= left and box[2] >= right:  # the pair as one piece
            assert label == NOT_A_DIGIT_CLASS


def test_shards_label_what_they_keep(tmp_path):
    shard = piece_judge.piece_shard("fit", 0, 3)
    assert len(shard["images"]) == len(shard["boxes"]) == len(shard["number"]) > 0
    labels = piece_judge.shard_labels(shard)
    assert set(labels) <= set(range(-1, 11)) and (labels == NOT_A_DIGIT_CLASS).any() and (labels < 10).any()
    checked = 0
    for box, label, index in zip(shard["boxes"], labels, shard["number"]):
        if 0 <= label < 10:  # the digit whose columns the piece covers most, worked out here
            digits = shard["digits"][index][shard["digits"][index] >= 0]
            boxes = shard["digit_boxes"][index][:len(digits)]
            cover = [(min(box[2], b[2]) - max(box[0], b[0])) / (b[2] - b[0]) for b in boxes]
            assert label == digits[int(np.argmax(cover))]
            checked += 1
    assert checked > 0


def test_shards_are_kept_and_reused(tmp_path, monkeypatch):
    images, labels = piece_judge.piece_set("fit", tmp_path, count=3)
    assert len(images) == len(labels) > 0 and set(labels) <= set(range(11))  # the left-out dropped
    assert sorted(p.name for p in tmp_path.iterdir()) == [piece_judge.shard_file("fit", 0, 3, piece_judge.MIX)]

    def never(*args):
        raise AssertionError("a kept shard is written again")

    monkeypatch.setattr(piece_judge, "piece_shard", never)
    again, again_labels = piece_judge.piece_set("fit", tmp_path, count=3)
    assert np.array_equal(again, images) and np.array_equal(again_labels, labels)


def test_a_coarse_share_of_the_numbers_is_written_with_coarse_digits(monkeypatch):
    calls, written = [], []

    def spy(digits):
        calls.append(coarse(digits))
        return calls[-1]

    def recording_number_set(digits, labels, lengths, seed, **kwargs):
        written.append((digits, labels))
        return number_set(digits, labels, lengths, seed, **kwargs)

    monkeypatch.setattr(piece_judge, "coarse", spy)
    monkeypatch.setattr(piece_judge, "number_set", recording_number_set)
    plain = piece_judge.written_numbers("fit", 0, 4, piece_judge.Mix(0.0))
    assert calls == [] and len(written) == 1
    mixed = piece_judge.written_numbers("fit", 0, 4, piece_judge.Mix(0.5))
    assert len(calls) == 1 and len(calls[0]) == piece_judge.COARSE_POOL
    assert written[-1][0] is calls[0]  # the coarse numbers are written with the coarse digits ...
    digits, labels = split_digits("fit")  # ... and each keeps its own digit's label
    labels_of = {}
    for image, label in zip(coarse(digits), labels):
        labels_of.setdefault(image.tobytes(), set()).add(int(label))
    assert all(int(label) in labels_of[image.tobytes()] for image, label in zip(calls[0], written[-1][1]))
    assert len(mixed) == 4 and all(len(n) == len(b) for _, n, b in mixed)
    for (photo, number, _), (again, number_again, _) in zip(mixed[:2], plain[:2]):  # the plain ones stay
        assert number == number_again and np.array_equal(np.asarray(photo), np.asarray(again))
    assert piece_judge.shard_file("fit", 2, 4, piece_judge.Mix(0.5)) == "pieces_fit_2_4_coarse50.npz"
    assert piece_judge.shard_file("fit", 2, 4, piece_judge.Mix(0.0)) == "pieces_fit_2_4.npz"
    assert piece_judge.shard_file("fit", 2, 4, piece_judge.Mix(0.3, 0.3)) == "pieces_fit_2_4_coarse30_tight30.npz"
    assert piece_judge.shard_file("fit", 2, 4, piece_judge.Mix(0.3, 0.0, 4)) == "pieces_fit_2_4_coarse30_cuts4.npz"
    for bad, words in (((1.5,), "received coarse 1.5"), ((0.6, 0.6), "received coarse 0.6, tight 0.6"),
                       ((0.305,), "received coarse 0.305"), ((0.3, 0.0, 0), "--cuts must be a whole number from 1")):
        with pytest.raises(DataError, match=words):
            piece_judge.Mix(*bad)


def test_the_pieces_are_the_candidates_of_the_mix_cuts(monkeypatch):
    """A shard's pieces come from a segmenter cutting Mix.cuts times per row height (not segment.CUTS)."""
    seen = []
    real = piece_judge.segment.Segmenter.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen.append(self.cuts)

    monkeypatch.setattr(piece_judge.segment.Segmenter, "__init__", spy)
    three = piece_judge.piece_shard("fit", 0, 3, piece_judge.Mix(0.0))
    six = piece_judge.piece_shard("fit", 0, 3, piece_judge.Mix(0.0, 0.0, 6))
    assert seen == [3] * 3 + [6] * 3
    assert len(six["images"]) > len(three["images"])  # finer cuts, more candidates


def test_a_tight_share_of_the_numbers_has_touching_or_overlapping_neighbours():
    def gaps(written):  # between neighbours' ink boxes, in photo pixels over the row's digit height
        found = []
        for _, _, boxes in written:
            height = np.median([b[3] - b[1] for b in boxes])
            found += [(right[0] - left[2]) / height for left, right in zip(boxes, boxes[1:])]
        return np.array(found)
    plain = piece_judge.written_numbers("fit", 0, 40, piece_judge.Mix(0.0))
    tight = piece_judge.written_numbers("fit", 0, 40, piece_judge.Mix(0.0, 0.5))
    assert [n for _, n, _ in tight[:20]] == [n for _, n, _ in plain[:20]]
    # TIGHT_GAP's gaps (-3 to 1 MNIST pixels) are mostly overlaps; GAP's (-3 to 10) mostly spaces
    assert np.median(gaps(tight[20:])) < np.median(gaps(plain[20:])) - 0.15
    assert np.quantile(gaps(tight[20:]), 0.9) < 0.1 < np.quantile(gaps(plain[20:]), 0.5)


@pytest.mark.slow
def test_trains_through_the_loop_and_loads_for_reading(tmp_path):
    result, model = piece_judge.train_piece_judge(tmp_path / "run", tmp_path / "cache", epochs=1,
                                                  counts={"train": 6, "fit": 2}, verbose=0)
    assert (result.output_dir / "history.csv").is_file()
    path = piece_judge.save_piece_judge(model, tmp_path / "judge.npz")
    one_digit = segment.load_piece_judge(path)
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    p = one_digit(images)
    keras_p = 1.0 - model.predict(images[..., None].astype("float32") / 255.0, verbose=0)[:, NOT_A_DIGIT_CLASS]
    assert p.shape == (5,) and np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p, keras_p, atol=2e-3)  # float16 weights in the file
    assert segment.load_piece_judge(tmp_path / "missing.npz") is None


def _remembering(predictor):
    """`predictor`, answering an input it has seen before from memory (both readings of a number
    classify many of the same pieces; a predictor's answer depends on the input alone)."""
    seen = {}

    def predict(images):
        images = np.asarray(images)
        keys = [(images.dtype.str, image.shape, image.tobytes()) for image in images]
        new = {}
        for i, key in enumerate(keys):
            if key not in seen:
                new.setdefault(key, i)
        if new:
            seen.update(zip(new, predictor(images[list(new.values())])))
        return np.stack([seen[key] for key in keys])
    return predict


@pytest.mark.slow
def test_reading_with_the_piece_judge_gets_more_numbers_whole():
    """The committed piece judge, with the reference committee, on 3 x 40 generated 4-digit numbers
    of validation digits (seeds that chose nothing): it reads whole numbers the classifier alone
    misreads (with it against judge_pieces=False, both without the pair reader and the line reader,
    whose spelling mends most of the same cuts), and breaks few that it reads."""
    from digitnet.data.number_synth import number_set
    from digitnet.experiments.reading_sets import split_digits
    from digitnet.serving.reading import predictor_of, read

    assert segment.PIECE_JUDGE_FILE.is_file()
    digits, labels = split_digits("fit")
    predictor = _remembering(predictor_of("saved_models/tflite/committee/1/committee_int8.tflite"))
    fixed = broken = 0
    for seed in (7101, 7102, 7103):
        for photo, number, _ in number_set(digits, labels, [4] * 40, seed):
            judged = read(photo, predictor, read_pairs=False, read_lines=False).number == number
            alone = read(photo, predictor, judge_pieces=False, read_pairs=False, read_lines=False).number == number
            fixed += judged and not alone
            broken += alone and not judged
    assert fixed >= 3 and broken <= fixed // 3, (fixed, broken)


@pytest.mark.parametrize("flags, words", [(["--numbers", "0"], "--numbers must be a positive whole number, received 0"),
                                          (["--coarse", "0.305"], "received coarse 0.305")])
def test_bad_flags_are_one_line_before_any_work(tmp_path, flags, words):
    with pytest.raises(DataError, match=words):
        piece_judge.main(flags + ["--output-dir", str(tmp_path / "run"), "--cache", str(tmp_path / "cache")])
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


def test_a_faint_digit_still_gets_its_box(mnist, monkeypatch):
    """A pen whose ink never reaches a quarter of full darkness (a faint pen on a coarse digit) still
    gives each digit its ink box, rather than failing on an empty one."""
    from digitnet.data import photo_synth

    real = photo_synth.ink_alpha
    def faint(*args):
        ink = real(*args)
        return 0.2 * ink / ink.max()

    monkeypatch.setattr(photo_synth, "ink_alpha", faint)
    photo, boxes = make_number(mnist.test_images[:2], (), np.random.default_rng(0))
    assert len(boxes) == 2 and all(right > left and bottom > top for left, top, right, bottom in boxes)
    assert boxes[0][2] <= boxes[1][2]
