"""Custom Keras layers of digitnet's models, registered so that a saved .keras loads.

Importing this module registers them; every place that loads a .keras file
(runtimes.load_keras_model, the committee, training) imports it first. The
layers use keras.ops only: they run on every Keras backend, and their
SavedModel and TFLite exports need no digitnet.
"""
from __future__ import annotations


import keras
import numpy as np
from keras import ops

from digitnet.core.errors import ConfigError
from digitnet.core.images import DIGIT_WIDTHS
from digitnet.data import affine, styles
from digitnet.data.presets import Augmentation, get_augmentation


def resampling_table(width: int, size: int = 28) -> np.ndarray:
    """[size * size + 1, size, size] float32: entry first * size + last holds the weights
    (input column, output column) that move ink spanning columns first..last to `width`
    columns centred in the image, by linear interpolation; the last entry (no ink) is the
    identity. A table rather than arithmetic at run time: the int8 TFLite export
    quantizes each intermediate tensor to 256 levels, too coarse for sub-pixel
    positions spread over the image, while a table lookup and one matmul quantize
    like any dense layer (tests/test_layers.py compares the exports)."""
    first, last = np.divmod(np.arange(size * size + 1), size)
    first, last = np.where(first < size, first, 0), np.where(first < size, last, size - 1)
    span = np.where(np.arange(size * size + 1) < size * size, np.maximum(last - first + 1, 1), width)
    centre = (first + last) / 2
    middle = (size - 1) / 2
    source = centre[:, None] + (np.arange(size)[None, :] - middle) * (span / width)[:, None]
    return np.maximum(0.0, 1 - np.abs(np.arange(size)[None, :, None] - source[:, None, :])).astype(np.float32)


@keras.saving.register_keras_serializable(package="digitnet")
class DigitWidth(keras.layers.Layer):
    """Stretches or squeezes each digit horizontally so that its ink spans `width`
    pixels, centred in the image; the rows are left as they are.

    The ink is every column whose brightest pixel exceeds `threshold` (images
    in [0, 1]); an image without ink passes unchanged. Resampling is linear:
    each output pixel is a weighted mean of its two nearest input pixels, so
    the pixel range is kept. The weights come from a table indexed by the ink's
    first and last columns (resampling_table), which int8 TFLite runs exactly.
    Ciresan et al. (2011) train committee members on digits normalised to
    widths 10-20: each member sees the digits differently.
    """

    def __init__(self, width: int, threshold: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(width, int) or isinstance(width, bool) or width not in DIGIT_WIDTHS:
            raise ConfigError(f"width must be an integer from {DIGIT_WIDTHS.start} to {DIGIT_WIDTHS.stop - 1} "
                              f"pixels, received {width!r}")
        if not isinstance(threshold, (int, float)) or not 0 <= threshold < 1:
            raise ConfigError(f"threshold must be a number in [0, 1), received {threshold!r}")
        self.width, self.threshold = width, float(threshold)
        self.table = resampling_table(width)

    def call(self, images):
        size = images.shape[2]
        ink = ops.cast(ops.max(images, axis=(1, 3)) > self.threshold, "int32")   # [batch, columns]
        first = ops.cast(ops.argmax(ink, axis=1), "int32")
        last = size - 1 - ops.cast(ops.argmax(ops.flip(ink, axis=1), axis=1), "int32")
        index = ops.where(ops.max(ink, axis=1) > 0, first * size + last, size * size)
        weights = ops.take(ops.convert_to_tensor(self.table, images.dtype), index, axis=0)
        # A plain batched matmul (an einsum's transposes lose int8 TFLite's calibration).
        rows = ops.matmul(ops.reshape(images, (-1, size, size)), weights)
        return ops.reshape(rows, (-1, size, size, 1))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "width": self.width, "threshold": self.threshold}


def affine_transforms(draws, augmentation: Augmentation, size) -> "keras.KerasTensor":
    """[batch, 8] projective transforms for keras.ops.image.affine_transform (each
    maps an output pixel to the input position it reads) from uniform draws in
    [-1, 1], [batch, 6]: the distortions augment.affine_from_draws makes of the
    same draws (affine.from_draws), about the image centre, in y-down pixel
    coordinates (tests/test_portable.py compares the two resamplings)."""
    entries, shift = affine.from_draws(draws, augmentation, size, ops)
    return projective_transforms(entries, shift, size)


def projective_transforms(entries: tuple, shift, size) -> "keras.KerasTensor":
    """[batch, 8] transforms for keras.ops.image.affine_transform from the inverse matrices'
    entries (m00, m01, m10, m11), each [batch], and the forward shifts [batch, 2] (x, y) in pixels."""
    height, width = (int(d) for d in size)
    m00, m01, m10, m11 = entries
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    # Output pixel p reads centre + M (p - centre - shift).
    origin_x, origin_y = centre_x + shift[:, 0], centre_y + shift[:, 1]
    zeros = ops.zeros_like(m00)
    return ops.stack([m00, m01, centre_x - m00 * origin_x - m01 * origin_y,
                      m10, m11, centre_y - m10 * origin_x - m11 * origin_y, zeros, zeros], axis=1)


def styled_transforms(images, labels, affine_draws, style_draws, augmentation: Augmentation) -> tuple:
    """(images with their strokes and pens edited, [batch, 8] transforms for
    keras.ops.image.affine_transform): a preset's style edits (styles.restyle, the maths
    that augment.py runs in the tf.data pipeline) from the digits' `labels` (None: the
    edits that need no label only) and uniform draws in [0, 1), [batch, styles.DRAWS],
    composed with its affine distortion of `affine_draws` [batch, 6]."""
    size = images.shape[1:3]
    (m00, m01, m10, m11), shift = affine.from_draws(affine_draws, augmentation, size, ops)
    inverse = ops.stack([ops.stack([m00, m01], axis=-1), ops.stack([m10, m11], axis=-1)], axis=1)
    edited, inverse, shift = styles.restyle(images, labels, style_draws, augmentation.styles, inverse, shift, ops)
    entries = (inverse[:, 0, 0], inverse[:, 0, 1], inverse[:, 1, 0], inverse[:, 1, 1])
    return edited, projective_transforms(entries, shift, size)


def resample(images, transforms):
    """images read through `transforms` by bilinear interpolation, zero outside, clipped to [0, 1]."""
    moved = ops.image.affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                                       fill_value=0.0)
    return ops.clip(moved, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="digitnet")
class RandomAffine(keras.layers.Layer):
    """While training, distorts each image by its own random affine transform drawn
    from an --augment preset (presets.py), after the preset's style edits if it has
    them; at inference it passes the images unchanged.

    The same distortions as the tf.data pipeline's augment.py, as a layer in the
    model, so that Keras trains a registered model with its registered
    augmentation on any backend (--feed arrays: JAX on a machine without
    TensorFlow). One bilinear resampling, zero outside the image, range kept.
    Style edits depend on each digit's label (an up-stroke on 1s only), so the
    layer takes the `labels` beside the images while training (without them it
    draws the edits that need no label, as augment.py does).
    The draws come from the layer's SeedGenerator: seeded, new every batch.
    Presets with an elastic field are refused (augment.py only)."""

    def __init__(self, preset: str = "affine", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        augmentation = get_augmentation(preset)
        if augmentation.has_elastic:
            raise ConfigError(f"RandomAffine draws affine distortions and style edits only; the preset {preset!r} "
                              "adds an elastic field, which only the tf.data pipeline (digitnet.train) draws")
        self.preset, self.seed, self.augmentation = preset, seed, augmentation
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, labels=None, training=None):
        if not training or self.augmentation.is_identity:
            return images
        batch = ops.shape(images)[0]
        draws = keras.random.uniform((batch, 6), -1.0, 1.0, seed=self.seed_generator)
        if not self.augmentation.has_styles:
            return resample(images, affine_transforms(draws, self.augmentation, images.shape[1:3]))
        style_draws = keras.random.uniform((batch, styles.DRAWS), seed=self.seed_generator)
        return resample(*styled_transforms(images, labels, draws, style_draws, self.augmentation))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "preset": self.preset, "seed": self.seed}
