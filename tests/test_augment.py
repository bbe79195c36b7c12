"""Random affine and elastic augmentation (digitnet/data/augment.py): determinism,
ranges, graph-mode shapes, and transforms that move digits where they should."""
import math

import numpy as np
import pytest
import tensorflow as tf

from digitnet.core.errors import ConfigError
from digitnet.data.augment import (augment_batch, bilinear_sample, elastic_field, inverse_affine, lattice_spacing,
                                   smoothing_matrix, warp)
from digitnet.data.presets import AUGMENTATIONS, Augmentation, get_augmentation

DISTORTING = [name for name in AUGMENTATIONS if name != "none"]


@pytest.fixture(scope="module")
def digits(mnist):
    """Twelve training digits as float32 [12, 28, 28, 1] in [0, 1]."""
    return tf.constant(mnist.train_images[:12, :, :, None], tf.float32) / 255.0


def seed(a, b=0, dtype=tf.int64):
    return tf.constant([a, b], dtype)


def centre_of_mass(images) -> np.ndarray:
    """(x, y) centre of mass per image, [batch, 2]."""
    images = np.asarray(images)[..., 0].astype(np.float64)
    ys, xs = np.mgrid[:images.shape[1], :images.shape[2]]
    mass = images.sum(axis=(1, 2))
    return np.stack([(images * xs).sum(axis=(1, 2)) / mass, (images * ys).sum(axis=(1, 2)) / mass], axis=1)


def transformed(images, rotation=0.0, scale=(1.0, 1.0), shear=0.0, translation=(0.0, 0.0)):
    """`images` under one fixed affine transform (the same for every image)."""
    batch = images.shape[0]
    inverse = inverse_affine(tf.fill([batch], rotation), tf.constant([scale] * batch, tf.float32),
                             tf.fill([batch], shear))
    return warp(images, inverse, tf.constant([translation] * batch, tf.float32)).numpy()


def blob(x: int, y: int, size: int = 2) -> tf.Tensor:
    """One image, zero except a size x size square whose top-left pixel is (x, y)."""
    image = np.zeros([1, 28, 28, 1], np.float32)
    image[0, y:y + size, x:x + size] = 1.0
    return tf.constant(image)


@pytest.mark.parametrize("preset", DISTORTING)
def test_same_seed_gives_bit_identical_output_and_other_seeds_differ(digits, preset):
    first = augment_batch(digits, seed(7, 3), preset).numpy()
    np.testing.assert_array_equal(first, augment_batch(digits, seed(7, 3), preset).numpy())
    for other in (seed(7, 4), seed(8, 3)):
        assert np.abs(first - augment_batch(digits, other, preset).numpy()).mean() > 0.01


@pytest.mark.parametrize("preset", list(AUGMENTATIONS))
def test_keeps_shape_dtype_and_range(digits, preset):
    for images in (digits, digits[:1]):
        out = augment_batch(images, seed(1), preset)
        assert out.shape == images.shape and out.dtype == tf.float32
        assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0


@pytest.mark.parametrize("preset", DISTORTING)
def test_every_preset_but_none_changes_the_images(digits, preset):
    out = augment_batch(digits, seed(2), preset).numpy()
    changed = np.abs(out - digits.numpy()).mean(axis=(1, 2, 3))
    assert changed.mean() > 0.03, changed
    assert changed.min() > 0.003, changed  # every image (a random shift may be small)


def test_none_returns_the_same_tensor(digits):
    assert augment_batch(digits, seed(0), "none") is digits
    assert get_augmentation("none").is_identity


def test_int32_and_int64_seeds_give_the_same_output(digits):
    np.testing.assert_array_equal(augment_batch(digits, seed(5, 6, tf.int32), "elastic").numpy(),
                                  augment_batch(digits, seed(5, 6, tf.int64), "elastic").numpy())


def test_works_on_unknown_batch_size_in_dataset_map_and_tf_function(digits):
    """Batches of 5, 5 and 2 with the seed made from the batch index, as the
    pipeline does; the graph gives the same result as eager calls."""
    dataset = tf.data.Dataset.from_tensor_slices(digits).batch(5).enumerate()
    mapped = dataset.map(
        lambda index, batch: augment_batch(batch, tf.stack([tf.constant(9, tf.int64), index]), "elastic"))
    batches = list(mapped.as_numpy_iterator())
    assert [len(b) for b in batches] == [5, 5, 2]
    assert list(mapped.as_numpy_iterator())[2].tobytes() == batches[2].tobytes()  # again: same bits
    compiled = tf.function(lambda images, s: augment_batch(images, s, "elastic"),
                           input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32), tf.TensorSpec([2], tf.int64)])
    for index, batch in enumerate(batches):
        images = digits[5 * index:5 * index + 5]
        np.testing.assert_array_equal(compiled(images, seed(9, index)).numpy(), batch)
        np.testing.assert_array_equal(augment_batch(images, seed(9, index), "elastic").numpy(), batch)


def test_translation_moves_the_centre_of_mass_by_the_translation(digits):
    """+x moves right and +y moves down, in pixels, for whole and fractional shifts
    (digits at least 3 px from every edge, so nothing is cut off)."""
    ink = digits.numpy()[..., 0] > 0
    rows, columns = ink.any(axis=2), ink.any(axis=1)
    near_edge = (rows[:, :3].any(axis=1) | rows[:, -3:].any(axis=1)
                 | columns[:, :3].any(axis=1) | columns[:, -3:].any(axis=1))
    images = tf.boolean_mask(digits, ~near_edge)
    assert len(images) >= 8
    before = centre_of_mass(images)
    for shift in ((3.0, -2.0), (-1.25, 0.5)):
        after = centre_of_mass(transformed(images, translation=shift))
        np.testing.assert_allclose(after - before, np.tile(shift, (len(before), 1)), atol=1e-3)


def test_random_shift_preset_moves_digits_by_up_to_shift_times_the_image_side(mnist):
    images = tf.constant(mnist.train_images[:200, :, :, None], tf.float32) / 255.0
    shift = 0.07  # at most 1.96 px: MNIST digits keep a 4 px margin, so none is cut
    moved = centre_of_mass(augment_batch(images, seed(3), Augmentation(shift=shift))) - centre_of_mass(images)
    limit = shift * 28
    assert np.abs(moved).max() <= limit + 1e-3
    assert np.abs(moved).max(axis=0).min() > 0.9 * limit  # both axes use the whole range
    assert abs(np.corrcoef(moved[:, 0], moved[:, 1])[0, 1]) < 0.3  # x and y drawn independently


def test_positive_rotation_turns_counter_clockwise_about_the_centre():
    """A square right of the centre (13.5, 13.5) goes above it at +90 degrees."""
    turned = centre_of_mass(transformed(blob(21, 13), rotation=math.pi / 2))[0]
    np.testing.assert_allclose(turned, [13.5, 5.5], atol=1e-3)


def test_scale_stretches_each_axis_about_the_centre():
    """scale (1.5, 1): x offsets from the centre grow by 1.5, y offsets stay."""
    moved = centre_of_mass(transformed(blob(19, 19), scale=(1.5, 1.0)))[0]
    np.testing.assert_allclose(moved, [13.5 + 1.5 * 6, 13.5 + 6], atol=1e-3)


def test_bilinear_sample_matches_a_plain_reference_inside_and_outside_the_image():
    """Positions up to 3 px beyond the edges: outside pixels count as zeros."""
    rng = np.random.default_rng(0)
    images = rng.random((2, 28, 28, 1)).astype(np.float32)
    x, y = (rng.uniform(-3, 30, (2, 28, 28)).astype(np.float32) for _ in range(2))
    padded = np.pad(images[..., 0], ((0, 0), (3, 4), (3, 4)))  # zeros where the positions can reach
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    batch = np.arange(2)[:, None, None]

    def pixel(dy, dx):
        return padded[batch, y0 + dy + 3, x0 + dx + 3]

    expected = ((1 - fy) * ((1 - fx) * pixel(0, 0) + fx * pixel(0, 1))
                + fy * ((1 - fx) * pixel(1, 0) + fx * pixel(1, 1)))
    sampled = bilinear_sample(tf.constant(images), tf.constant(x - 13.5), tf.constant(y - 13.5)).numpy()[..., 0]
    np.testing.assert_allclose(sampled, expected, atol=1e-5)


def test_inverse_affine_inverts_rotation_shear_scale():
    rotation, scale, shear = 0.3, (1.1, 0.9), -0.2
    c, s = math.cos(rotation), math.sin(rotation)
    forward = (np.array([[c, s], [-s, c]]) @ np.array([[1, math.tan(shear)], [0, 1]]) @ np.diag(scale))
    inverse = inverse_affine(tf.constant([rotation]), tf.constant([scale], tf.float32), tf.constant([shear])).numpy()[0]
    np.testing.assert_allclose(inverse @ forward, np.eye(2), atol=1e-6)


def test_elastic_field_is_smooth_and_scales_with_alpha():
    field = elastic_field((16, 28, 28), seed(4), alpha=34.0, sigma=4.5).numpy()
    assert field.shape == (16, 28, 28, 2)
    magnitude = np.abs(field).mean()
    neighbour = (np.abs(np.diff(field, axis=1)).mean() + np.abs(np.diff(field, axis=2)).mean()) / 2
    assert 0.5 < magnitude < 2.0  # Simard's alpha 34, sigma 4-5: displacements of about a pixel
    assert neighbour < 0.25 * magnitude  # unsmoothed noise would give about 1.1x
    half = elastic_field((16, 28, 28), seed(4), alpha=17.0, sigma=4.5).numpy()
    np.testing.assert_allclose(half, field / 2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sigma", [4.0, 4.5, 6.0, 8.0])
def test_noise_lattice_keeps_the_field_variance_of_per_pixel_noise(sigma):
    """Per pixel, the field's variance is (1/3) x the sum of squared weights
    along each axis; the coarse lattice must match per-pixel noise's."""
    spacing = lattice_spacing(sigma, (28, 28))
    assert spacing > 1
    full = (smoothing_matrix(28, sigma, 1) ** 2).sum(axis=1)
    coarse = (smoothing_matrix(28, sigma, spacing) ** 2).sum(axis=1)
    ratio = np.sqrt(np.outer(coarse, coarse) / np.outer(full, full))
    assert np.abs(ratio - 1).max() < 0.01


def test_elastic_field_on_the_lattice_matches_per_pixel_noise_statistically():
    coarse = elastic_field((64, 28, 28), seed(1), 34.0, 4.5).numpy()
    fine = elastic_field((64, 28, 28), seed(1), 34.0, 4.5, spacing=1).numpy()
    assert abs(coarse.std() / fine.std() - 1) < 0.1


def test_unknown_preset_names_the_choices(digits):
    with pytest.raises(ConfigError) as error:
        augment_batch(digits, seed(0), "rotate")
    assert str(error.value) == "unknown --augment 'rotate'; choose one of " + ", ".join(AUGMENTATIONS)
    assert str(error.value).startswith("unknown --augment 'rotate'; choose one of none, ")


@pytest.mark.parametrize("fields", [dict(zoom=1.0), dict(rotation_degrees=-5.0),
                                    dict(elastic_alpha=10.0, elastic_sigma=0.0)])
def test_impossible_parameters_are_config_errors(fields):
    with pytest.raises(ConfigError):
        Augmentation(**fields)


def test_augmentation_grid_writes_a_png(mnist, tmp_path):
    from digitnet.data.augment_figure import augmentation_grid

    path = augmentation_grid(mnist.train_images[:2], "elastic", tmp_path / "grid.png", versions=2)
    assert path.read_bytes().startswith(b"\x89PNG") and not list(tmp_path.glob(".tmp-*"))
