"""Style edits (digitnet/data/styles.py, --augment styles), the measuring set of other
styles (digitnet/data/other_styles.py) and the per-class table of benchmarks/other_styles.py.

The edits are measured here with NumPy, from the digits' own ink, not with the
generator's measures: an up-stroke is ink above and left of a 1's stem, a bar is
ink on both sides of a 7's stem on one row."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import styles_probe
from conftest import NO_TENSORFLOW, kill_after_backup, quick_train_args, run_train, subprocess_env
from digitnet.core.errors import ConfigError
from digitnet.data import augment, styles
from digitnet.data.augment import TF_OPS, augment_batch
from digitnet.data.pipeline import epoch_variable, make_dataset
from digitnet.data.presets import Augmentation, StyleCoverage, get_augmentation
from digitnet.models.tasks import CLASSIFICATION

ROOT = Path(__file__).resolve().parents[1]
STROKES_ONLY = styles_probe.STROKES_ONLY  # the stroke edit of each digit, every time, nothing else


def digits_of(mnist, label: int, count: int = 40) -> np.ndarray:
    return mnist.train_images[np.flatnonzero(mnist.train_labels == label)[:count]]


def stroke_edited(images_uint8: np.ndarray, label: int, coverage: StyleCoverage = STROKES_ONLY,
                  seed=(4, 2)) -> np.ndarray:
    """styles.edit_strokes on `images_uint8`, all labelled `label`: float [n, 28, 28], in the
    digits' own coordinates (before the affine transform moves them)."""
    ink = tf.constant(images_uint8, tf.float32) / 255.0
    draws = tf.random.stateless_uniform([len(images_uint8), styles.DRAWS], seed)
    labels = tf.fill([len(images_uint8)], label)
    edited, _ = styles.edit_strokes(ink, styles.Profile(ink, TF_OPS), styles.stroke_width(ink, TF_OPS), labels,
                                    draws, coverage, TF_OPS)
    return edited.numpy()


def stem_line(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, x of the stem on each row) of a 1: the straight line through the centres of its
    ink on its top two and bottom two rows."""
    rows = np.flatnonzero((image >= 0.3).any(axis=1))
    top, bottom = rows[0], rows[-1]
    xs = np.arange(image.shape[1])

    def centre(band):
        weights = image[band].sum(axis=0)
        return (weights * xs).sum() / weights.sum()

    top_x, bottom_x = centre(slice(top, top + 2)), centre(slice(bottom - 1, bottom + 1))
    every = np.arange(image.shape[0])
    return every, top_x + (every - top) * (bottom_x - top_x) / max(bottom - top, 1)


def ink_left_of_stem_in_top_half(image: np.ndarray, stem_of: np.ndarray) -> float:
    """Ink more than 2 px left of the stem line of `stem_of`, on the top half of its rows."""
    rows = np.flatnonzero((stem_of >= 0.3).any(axis=1))
    every, stem = stem_line(stem_of)
    top_half = (every >= rows[0]) & (every <= (rows[0] + rows[-1]) / 2)
    left = np.arange(image.shape[1])[None, :] < stem[:, None] - 2
    return float((image * (left & top_half[:, None])).sum())


def test_up_stroke_appears_above_left_of_a_1s_stem(mnist):
    ones = digits_of(mnist, 1) / 255.0
    edited = stroke_edited(digits_of(mnist, 1), 1)
    before = np.array([ink_left_of_stem_in_top_half(o, o) for o in ones])
    after = np.array([ink_left_of_stem_in_top_half(e, o) for e, o in zip(edited, ones)])
    # An edit that would close a loop is not drawn (test_stroke_edits_keep_the_digits_loops); every 1 that
    # changed gained its up-stroke.
    changed = np.abs(edited - ones).max(axis=(1, 2)) > 0.01
    assert changed.mean() >= 0.75, changed
    gained = (after - before)[changed]
    assert np.mean(gained > 3.0) >= 0.9, gained  # 3 pixels' worth of ink at least, on 9 ones in 10
    assert np.median(gained) > 6.0, gained
    # Nothing is taken away from the digit: the edit only adds ink.
    assert np.all(edited >= ones - 1e-6)


def test_bare_one_is_one_straight_stroke(mnist):
    ones = digits_of(mnist, 1)
    edited = stroke_edited(ones, 1, StyleCoverage(stroke=1.0, bare_one=1.0, pen=0.0, shape=0.0))
    for image in edited:
        every, stem = stem_line(image)
        # Every pixel of ink within 4 px of one straight line, measured along the rows
        # (a stroke up to 4.5 px wide, slanted, with round ends).
        off_line = np.abs(np.arange(28)[None, :] - stem[:, None]) > 4
        assert (image * off_line).sum() < 0.5


def ink_both_sides_of_stem(image: np.ndarray, stem_of: np.ndarray) -> int:
    """Rows in the middle 30-70 % of `stem_of`'s height where `image` has ink (>= 0.5) both
    more than 2 px left and more than 2 px right of `stem_of`'s stem (its ink centre on that row)."""
    rows = np.flatnonzero((stem_of >= 0.3).any(axis=1))
    top, height = rows[0], rows[-1] - rows[0] + 1
    xs = np.arange(image.shape[1])
    count = 0
    for row in range(int(top + 0.3 * height), int(top + 0.7 * height) + 1):
        weights = stem_of[row]
        if weights.sum() == 0:
            continue
        stem = (weights * xs).sum() / weights.sum()
        ink = image[row] >= 0.5
        count += bool(ink[xs < stem - 2].any() and ink[xs > stem + 2].any())
    return count


def test_bar_crosses_a_7s_stem(mnist):
    sevens = digits_of(mnist, 7) / 255.0
    edited = stroke_edited(digits_of(mnist, 7), 7)
    before = np.array([ink_both_sides_of_stem(s, s) for s in sevens])
    after = np.array([ink_both_sides_of_stem(e, s) for e, s in zip(edited, sevens)])
    assert np.mean(after > before) >= 0.9, (before, after)
    assert np.all(edited >= sevens - 1e-6)


def test_2s_are_crossed_too_and_other_digits_keep_their_strokes(mnist):
    twos = digits_of(mnist, 2) / 255.0
    edited = stroke_edited(digits_of(mnist, 2), 2)
    changed = np.abs(edited - twos).max(axis=(1, 2)) > 0.01
    assert changed.mean() >= 0.75, changed  # the rest would have had a loop closed or split
    assert np.mean([ink_both_sides_of_stem(e, t) > ink_both_sides_of_stem(t, t)
                    for e, t, c in zip(edited, twos, changed) if c]) >= 0.8
    for digit in (0, 3, 5, 6, 8):
        np.testing.assert_array_equal(stroke_edited(digits_of(mnist, digit, 10), digit),
                                      digits_of(mnist, digit, 10) / np.float32(255))


def test_4s_open_at_the_top_and_9s_grow_a_tail_to_the_lower_left(mnist):
    fours = digits_of(mnist, 4) / 255.0
    opened = stroke_edited(digits_of(mnist, 4), 4)
    assert np.all(opened <= fours + 1e-6)  # ink only taken away
    # The top 15 % of each 4, more than 5 px left of the rightmost ink of its top 3 rows (the stem):
    # whatever ink was there (the top of the left arm, or of a closed 4's diagonal) is gone.
    before, after = [], []
    for four, edited in zip(fours, opened):
        rows = np.flatnonzero((four >= 0.3).any(axis=1))
        top, height = rows[0], rows[-1] - rows[0] + 1
        stem = np.flatnonzero((four[top:top + 3] >= 0.3).any(axis=0))[-1]
        band = (slice(top, int(top + 0.15 * height - 0.5) + 1), slice(0, max(stem - 5, 0)))
        before.append(four[band].sum())
        after.append(edited[band].sum())
    before, after = np.array(before), np.array(after)
    had_ink = before > 1.0
    assert had_ink.sum() >= 15
    assert np.all(after[had_ink] < 0.1 * before[had_ink]), (before, after)

    nines = digits_of(mnist, 9) / 255.0
    tailed = stroke_edited(digits_of(mnist, 9), 9)
    bottoms = [np.flatnonzero((n >= 0.3).any(axis=1))[-1] for n in nines]
    lefts = [np.flatnonzero((n[b - 2:b + 1] >= 0.3).any(axis=0))[0] for n, b in zip(nines, bottoms)]
    # New ink below the 9's last row or left of where its tail ended.
    gained = [(t[b - 4:, :left].sum() + t[b + 1:].sum()) - (n[b - 4:, :left].sum() + n[b + 1:].sum())
              for t, n, b, left in zip(tailed, nines, bottoms, lefts)]
    assert np.mean(np.array(gained) > 2.0) >= 0.9, gained


def holes(image: np.ndarray) -> int:
    """Enclosed background regions of `image`: 4-connected runs of pixels below 0.3 that do not
    touch the field's edge, counted by a breadth-first search."""
    background = image < 0.3
    seen = np.zeros_like(background)
    count = 0
    for start in zip(*np.nonzero(background)):
        if seen[start]:
            continue
        seen[start] = True
        queue, touches_edge = [start], False
        while queue:
            y, x = queue.pop()
            touches_edge |= y in (0, 27) or x in (0, 27)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < 28 and 0 <= nx < 28 and background[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        count += not touches_edge
    return count


@pytest.mark.parametrize("digit", [9, 7, 2, 1])
def test_stroke_edits_keep_the_digits_loops(mnist, digit):
    """A 9 has one loop: a tail that meets it or curls into itself makes two (an 8). A 7's bar
    under its serif closes a 4; a 2's bar across its curl splits the loop; a 1's flag pinched
    against a slanted stem closes a sliver. Each edit must leave the digit's loops as they were."""
    originals = digits_of(mnist, digit, 300)
    coverage = StyleCoverage(stroke=1.0, bare_one=0.0, foot=1.0, pen=0.0, shape=0.0)
    edited = stroke_edited(originals, digit, coverage)
    before, after = np.array([holes(o / 255.0) for o in originals]), np.array([holes(e) for e in edited])
    assert np.sum(after > before) == 0, np.flatnonzero(after > before)
    assert np.sum(after < before) == 0, np.flatnonzero(after < before)
    # The edits still happen: most digits gain ink.
    assert np.mean((edited - originals / 255.0).sum(axis=(1, 2)) > 2.0) >= 0.75


def test_stroke_width_is_the_photo_preparation_s_measure(mnist):
    from digitnet.serving.preprocess import DIGIT_BOX, stroke_width

    images = mnist.train_images[:50]
    ours = styles.stroke_width(tf.constant(images, tf.float32) / 255.0, TF_OPS).numpy()
    # preprocess.stroke_width scales to the 20-pixel box; on the whole 28x28 field that is 20/28.
    theirs = np.array([stroke_width(image / 255.0) * 28 / DIGIT_BOX for image in images])
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_markers_thicken_and_fine_pens_thin_the_strokes(mnist):
    from digitnet.serving.preprocess import stroke_width

    images = mnist.train_images[:60]
    ink = tf.constant(images, tf.float32) / 255.0
    width = styles.stroke_width(ink, TF_OPS)
    coverage = StyleCoverage(pen=1.0)
    for kind, thicker in ((0.2, True), (0.7, False)):
        draws = tf.random.stateless_uniform([len(images), styles.DRAWS], [1, 1]).numpy()
        draws[:, styles._PEN_KIND] = kind
        changed = styles.change_pen(ink, width, tf.constant(draws), coverage, TF_OPS).numpy()
        before = np.array([stroke_width(image / 255.0) for image in images])
        after = np.array([stroke_width(image) for image in changed])
        if thicker:
            assert np.all(after > before)
        else:
            thin_enough = width.numpy() > 2.6
            assert thin_enough.sum() >= 10
            assert np.all(after[thin_enough] < before[thin_enough])
            np.testing.assert_array_equal(changed[~thin_enough], images[~thin_enough] / np.float32(255))
        assert changed.max() <= 1.0 and changed.min() >= 0.0


def test_same_seed_gives_bit_identical_images_other_seeds_differ(mnist):
    images = tf.constant(mnist.train_images[:64, :, :, None], tf.float32) / 255.0
    labels = tf.constant(mnist.train_labels[:64])
    first = augment_batch(images, tf.constant([3, 1], tf.int64), "styles", labels).numpy()
    np.testing.assert_array_equal(first, augment_batch(images, tf.constant([3, 1], tf.int64), "styles",
                                                       labels).numpy())
    assert np.abs(first - augment_batch(images, tf.constant([3, 2], tf.int64), "styles", labels).numpy()).mean() \
        > 0.01
    # The labels matter: the same seed without them draws no stroke edit.
    assert not np.array_equal(first, augment_batch(images, tf.constant([3, 1], tf.int64), "styles").numpy())


# sha256 of augment_batch's float32 output for the first 64 training digits, seed (3, 1), with and
# without their labels: the tf.data pipeline's style edits, recorded from the code that trained
# saved_models/lenet/3, so that a rewrite of the maths cannot move a bit of what the pipeline draws
# (a deliberate change of the edits records new digests and says so). The
# bits are those of TensorFlow 2.21 on x86-64 CPUs: XLA compiles the edits for the CPU's instruction
# set, so each variant has the digest of each of the two kinds of 2-core EPYC machine this project
# runs on (one with AVX-512, one with AVX2 only); another TensorFlow version
# or instruction set may round differently, which is no change of the maths.
PINNED_STYLES_DIGESTS = {"labels": {"3e12156af3c06b54e2efe2beacefaede903bec6a6ea19362be5ac905209e6901",
                                    "eaa71d9db21c69a510eef1c25ea1ecb324dafe0b03faff71c7499e111a1ae44d"},
                         "no labels": {"71c2a57aefd2e72da24ddb0d1b53bf348f5fa313c9a17cf8a8d224f20d41382d",
                                       "f6d898182b5d048bbbc94659c67cd2b8b456cb9f7273c7e63107c6e37b89deb4"}}


# Each variant compiles its own graph (about 5 s on 2 cores): the one without labels runs with the slow tests.
@pytest.mark.parametrize("name", ["labels", pytest.param("no labels", marks=pytest.mark.slow)])
def test_pipeline_style_edits_keep_their_recorded_bits(mnist, name):
    import hashlib

    images = tf.constant(mnist.train_images[:64, :, :, None], tf.float32) / 255.0
    labels = tf.constant(mnist.train_labels[:64]) if name == "labels" else None
    out = augment_batch(images, tf.constant([3, 1], tf.int64), "styles", labels).numpy()
    assert hashlib.sha256(out.tobytes()).hexdigest() in PINNED_STYLES_DIGESTS[name], name


@pytest.mark.slow  # XLA compiles the edits once per batch shape and graph: four times here
def test_dataset_map_gives_the_eager_bits_on_batches_of_any_size(mnist):
    images = tf.constant(mnist.train_images[:12, :, :, None], tf.float32) / 255.0
    labels = tf.constant(mnist.train_labels[:12])
    mapped = tf.data.Dataset.from_tensor_slices((images, labels)).batch(5).enumerate().map(
        lambda index, batch: augment_batch(batch[0], tf.stack([tf.constant(9, tf.int64), index]), "styles",
                                           batch[1]))
    for index, batch in enumerate(mapped.as_numpy_iterator()):
        part = slice(5 * index, 5 * index + 5)
        np.testing.assert_array_equal(
            augment_batch(images[part], tf.constant([9, index], tf.int64), "styles", labels[part]).numpy(), batch)


def test_keeps_shape_range_and_boxes_every_edited_digit(mnist):
    images = tf.constant(mnist.train_images[:200, :, :, None], tf.float32) / 255.0
    labels = tf.constant(mnist.train_labels[:200])
    wide = Augmentation(styles=StyleCoverage(stroke=1.0, shape=1.0, pen=1.0, widest=1.7))
    out = augment_batch(images, tf.constant([0, 9], tf.int64), wide, labels).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    ink = out[..., 0] >= 0.3
    heights = [np.ptp(np.flatnonzero(i.any(axis=1))) + 1 for i in ink]
    widths = [np.ptp(np.flatnonzero(i.any(axis=0))) + 1 for i in ink]
    assert max(heights) <= 22 and max(widths) <= 22  # MNIST's 20-pixel box, give or take the resampling
    assert max(widths) >= 18  # widened digits use the box's width


def dataset_epoch(images, labels, augment, seed=5, epoch=1):
    clock = epoch_variable()
    dataset = make_dataset(images, labels, CLASSIFICATION, 50, shuffle_seed=seed, epoch=clock, augment=augment)
    clock.assign(epoch)
    batches = list(dataset)
    return (np.concatenate([x.numpy() for x, _ in batches]), np.concatenate([y.numpy() for _, y in batches]))


def test_pipeline_keeps_labels_and_draws_from_seed_epoch_and_batch(small_mnist):
    images, labels = small_mnist.train_images[:150], small_mnist.train_labels[:150]
    styled, styled_labels = dataset_epoch(images, labels, "styles")
    plain, plain_labels = dataset_epoch(images, labels, "none")
    np.testing.assert_array_equal(styled_labels, plain_labels)  # the same order, every label kept
    assert styled.min() >= 0 and styled.max() <= 1 and not np.array_equal(styled, plain)
    again, _ = dataset_epoch(images, labels, "styles")  # a fresh pipeline, as after a resume
    np.testing.assert_array_equal(again, styled)
    assert not np.array_equal(dataset_epoch(images, labels, "styles", epoch=2)[0], styled)


def test_existing_presets_do_not_change():
    assert not any(get_augmentation(name).has_styles for name in ("none", "shift", "affine", "elastic-only",
                                                                   "elastic"))
    assert get_augmentation("styles").has_styles and "style edits" in get_augmentation("styles").describe()


# -- the same edits through layers.RandomAffine (keras.ops), on Keras' TensorFlow and JAX backends --------------

def probe_inputs(mnist) -> dict:
    """40 ones, 40 sevens and 40 other digits, with the draws that the pipeline's maths also turns into images."""
    labels = mnist.train_labels
    chosen = np.concatenate([np.flatnonzero(labels == 1)[:40], np.flatnonzero(labels == 7)[:40],
                             np.flatnonzero(~np.isin(labels, (1, 7)))[:40]])
    count = len(chosen)
    return {"images": mnist.train_images[chosen], "labels": labels[chosen].astype(np.int32),
            "affine_draws": tf.random.stateless_uniform([count, 6], [7, 8], -1.0, 1.0).numpy(),
            "style_draws": tf.random.stateless_uniform([count, styles.DRAWS], [9, 10]).numpy()}


def pipeline_image(inputs: dict) -> np.ndarray:
    """The inputs' draws turned into images by the tf.data pipeline's maths (augment.py, TF_OPS)."""
    images = tf.constant(inputs["images"], tf.float32)[..., None] / 255.0
    augmentation = get_augmentation("styles")
    inverse, translation = augment.affine_from_draws(tf.constant(inputs["affine_draws"]), augmentation, (28, 28))
    edited, inverse, translation = styles.restyle(images, tf.constant(inputs["labels"]),
                                                  tf.constant(inputs["style_draws"]), augmentation.styles, inverse,
                                                  translation, TF_OPS)
    return augment.warp(edited, inverse, translation).numpy()


def check_layer_outputs(inputs: dict, out: dict) -> None:
    """What test_styles asks of the pipeline's edits, asked of the layer's: the same image from the
    same draws, an up-stroke on 1s and a bar on 7s (measured on each output's own stem), other
    digits untouched, pixel range kept, seeded and deterministic, labels used, nothing at inference."""
    images, labels = inputs["images"] / np.float32(255), inputs["labels"]
    assert np.abs(out["same_draws"] - pipeline_image(inputs)).max() < 1e-4
    assert np.abs(out["same_draws"][..., 0] - images).mean() > 0.02  # they did change the digits
    strokes = out["strokes"][..., 0]
    ones, sevens, others = labels == 1, labels == 7, ~np.isin(labels, (1, 2, 4, 7, 9))
    # A 1 or 7 whose stroke would close a loop stays as it was (test_stroke_edits_keep_the_digits_loops).
    changed = np.abs(strokes - images).max(axis=(1, 2)) > 0.01
    assert changed[ones].mean() >= 0.75, changed[ones]
    gained = np.array([ink_left_of_stem_in_top_half(e, e) - ink_left_of_stem_in_top_half(o, o)
                       for e, o in zip(strokes[ones & changed], images[ones & changed])])
    assert np.mean(gained > 3.0) >= 0.9 and np.median(gained) > 6.0, gained
    assert changed[sevens].mean() >= 0.75, changed[sevens]
    crossed = [ink_both_sides_of_stem(e, o) > ink_both_sides_of_stem(o, o)
               for e, o in zip(strokes[sevens & changed], images[sevens & changed])]
    assert np.mean(crossed) >= 0.9, crossed
    np.testing.assert_allclose(strokes[others], images[others], atol=1e-5)  # no edit, no transform: unmoved
    for name in ("same_draws", "strokes", "first", "second", "twin", "unlabelled"):
        assert out[name].shape == (len(labels), 28, 28, 1) and out[name].dtype == np.float32, name
        assert out[name].min() >= 0.0 and out[name].max() <= 1.0, name
    np.testing.assert_array_equal(out["first"], out["twin"])  # seeded
    assert np.abs(out["first"] - out["second"]).mean() > 0.01  # new draws every batch
    # The stroke edits themselves are checked above (up-strokes on 1s, bars on 7s, others unmoved).
    np.testing.assert_array_equal(out["inference"][..., 0], images)


def test_the_layer_draws_the_pipelines_edits_on_keras_tensorflow(mnist):
    inputs = probe_inputs(mnist)
    check_layer_outputs(inputs, styles_probe.outputs(inputs))


@pytest.mark.slow  # a Keras-on-JAX interpreter: about 20 s on 2 cores
def test_the_layer_draws_the_pipelines_edits_on_keras_jax_without_tensorflow(mnist, tmp_path):
    inputs = probe_inputs(mnist)
    np.savez(tmp_path / "in.npz", **inputs)
    (tmp_path / "sitecustomize.py").write_text(NO_TENSORFLOW)
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "styles_probe.py"), str(tmp_path / "in.npz"),
                           str(tmp_path / "out.npz")], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=subprocess_env(KERAS_BACKEND="jax", PYTHONPATH=f"{tmp_path}:{ROOT}"))
    assert done.returncode == 0, done.stderr[-3000:]
    out = dict(np.load(tmp_path / "out.npz"))
    assert str(out.pop("backend")) == "jax"
    check_layer_outputs(inputs, out)


def test_the_layer_still_refuses_elastic_presets():
    from digitnet.models.layers import RandomAffine

    with pytest.raises(ConfigError, match="'elastic' adds an elastic field"):
        RandomAffine("elastic")


@pytest.mark.parametrize("fields", [dict(stroke=1.5), dict(pen=-0.1), dict(narrowest=0.0), dict(widest=0.9),
                                    dict(slant_degrees=70.0)])
def test_impossible_style_coverage_is_a_config_error(fields):
    with pytest.raises(ConfigError, match="style coverage"):
        StyleCoverage(**fields)


def test_measuring_set_is_seeded_covers_every_style_and_prepares_as_digits():
    from digitnet.data.other_styles import STYLES, measuring_set
    from digitnet.serving.preprocess import to_grey, to_mnist

    pages, labels, names = measuring_set(120, seed=3)
    again, _, _ = measuring_set(120, seed=3)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(pages, again))
    assert not np.array_equal(np.asarray(measuring_set(1, seed=4)[0][0]), np.asarray(pages[0]))
    np.testing.assert_array_equal(labels, np.arange(120) % 10)
    assert {(int(label), name) for label, name in zip(labels, names)} <= \
        {(digit, name) for digit, styles_of in STYLES.items() for name in styles_of}
    assert len(set(names)) >= 20  # nearly every one of the 25 styles in 120 draws
    for page in pages[:10]:
        digit = to_mnist(to_grey(page))
        assert digit.shape == (28, 28) and digit.max() > 200
    with pytest.raises(ConfigError, match="at least 1 digit, got 0"):
        measuring_set(0)


def load_benchmark(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def confusion_matrix(labels, predictions, labels_order):
    """Counts of (true, predicted) pairs, rows and columns in `labels_order`: written here, apart from the benchmark."""
    index = {value: position for position, value in enumerate(labels_order)}
    matrix = np.zeros((len(labels_order), len(labels_order)), np.int64)
    for true, predicted in zip(labels, predictions):
        matrix[index[int(true)], index[int(predicted)]] += 1
    return matrix


def test_per_class_table_matches_a_confusion_matrix():
    benchmark = load_benchmark("other_styles")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    predictions = np.where(rng.random(500) < 0.8, labels, rng.integers(-1, 10, 500))
    table = benchmark.per_class(labels, predictions)
    matrix = confusion_matrix(labels, predictions, list(range(-1, 10)))  # row/column 0: no digit read
    assert table["correct"] == np.trace(matrix[1:, 1:]) and table["n"] == 500
    for digit in range(10):
        row = matrix[digit + 1]
        entry = table["per_digit"][str(digit)]
        assert entry["n"] == row.sum() and entry["correct"] == row[digit + 1]
        assert entry["accuracy"] == pytest.approx(row[digit + 1] / row.sum())
        wrong = {("-" if answer == -1 else str(answer)): int(row[answer + 1])
                 for answer in range(-1, 10) if answer != digit and row[answer + 1]}
        assert entry["read_as"] == wrong


@pytest.mark.slow
def test_a_tiny_training_run_with_the_styles_preset(tmp_path):
    folder = tmp_path / "run"
    run_train(["--arch", "lenet", "--augment", "styles", *quick_train_args(500, 200, 1), "--output-dir",
               str(folder)])
    assert json.loads((folder / "config.json").read_text())["config"]["augment"] == "styles"
    assert (folder / "augmentation.png").read_bytes().startswith(b"\x89PNG")
    # 500 digits for one epoch: a model that learnt something (chance is 10 %), no more.
    assert json.loads((folder / "metrics.json").read_text())["test"]["accuracy"] > 0.15


@pytest.mark.slow
def test_a_killed_deterministic_run_with_styles_resumes_to_the_uninterrupted_weights(tmp_path):
    """The edits are drawn from (seed, epoch, batch): a run killed after an epoch and resumed in a
    new process trains on the same edited digits as one left alone, bit for bit."""
    argv = ["--arch", "lenet", "--augment", "styles", *quick_train_args(1000, 100, 3), "--seed", "3",
            "--deterministic"]
    run_train([*argv, "--output-dir", str(tmp_path / "alone")])
    folder = tmp_path / "killed"
    kill_after_backup(argv, folder, epochs=1)
    assert not (folder / "metrics.json").exists()
    assert "resuming the interrupted run" in run_train([*argv, "--output-dir", str(folder)]).stdout

    def weights(run):
        return json.loads((run / "metrics.json").read_text())["weights_sha256"]

    assert weights(folder) == weights(tmp_path / "alone")
