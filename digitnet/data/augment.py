"""Random affine and elastic distortions of whole batches of digits, in TensorFlow.

Each output pixel reads the input at one sampling point: the inverse affine
transform of the output pixel's position moved by an elastic displacement
(Simard, Steinkraus and Platt 2003, "Best practices for convolutional neural
networks applied to visual document analysis"). Both transforms therefore cost
one bilinear resampling, which blurs less than resampling twice. Everything is a
batched TensorFlow op (no per-image Python, no py_function), so the function
runs inside a tf.data `map` over batches, and every random draw is stateless:
the same images and seed give bit-identical output, eagerly, in a tf.function
and in tf.data alike.

Presets with style edits (styles.py) rewrite each digit's strokes, pen, slant
and width first, from its label, and compose the slant and width with the
affine transform, so the digit is still resampled once. styles.py writes its
maths in keras.ops' names; TF_OPS gives it TensorFlow's ops under them.

Coordinates are pixels with x to the right and y downwards; the image centre
is the origin of rotation, scaling and shear.
"""
from __future__ import annotations

import math
import types

import numpy as np
import tensorflow as tf

from digitnet.data import affine, styles
from digitnet.data.presets import Augmentation, get_augmentation


# The keras.ops names that styles.py computes with, as TensorFlow ops: the pipeline runs them without Keras.
TF_OPS = types.SimpleNamespace(
    abs=tf.abs, any=tf.reduce_any, argmax=tf.argmax, cast=tf.cast, clip=tf.clip_by_value,
    convert_to_tensor=tf.constant, cos=tf.cos, equal=tf.equal, exp=tf.exp,
    flip=lambda x, axis: tf.reverse(x, [axis]), matmul=tf.matmul, max=tf.reduce_max, maximum=tf.maximum,
    minimum=tf.minimum, pad=tf.pad, sin=tf.sin, sqrt=tf.sqrt, square=tf.square, stack=tf.stack, sum=tf.reduce_sum,
    tan=tf.tan, where=tf.where, zeros_like=tf.zeros_like)


def smoothing_matrix(size: int, sigma: float, spacing: int = 1) -> np.ndarray:
    """[size, ceil(size / spacing)] weights that turn white noise on a lattice
    of `spacing` pixels into noise smoothed by a Gaussian of `sigma` pixels.

    With spacing 1 this is a 'same' Gaussian convolution with zeros beyond the
    ends and the kernel not truncated, as scipy.ndimage.gaussian_filter(
    mode='constant') in the usual implementations of Simard's distortion (the
    analytic normalisation sums to 1 over the integers within 1e-8 for
    sigma >= 1). A coarser lattice multiplies the
    weights by sqrt(spacing): each output pixel then sums 1/spacing as many
    noise values, and the smoothed field keeps the same variance."""
    lattice = np.arange(-(-size // spacing)) * spacing + (spacing - 1) / 2
    offsets = np.arange(size)[:, None] - lattice[None, :]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma)
    return (kernel * math.sqrt(spacing)).astype(np.float32)


def lattice_spacing(sigma: float, size) -> int:
    """Noise lattice spacing for a field of width `sigma` over `size` (height,
    width): the largest spacing up to sigma / 2 pixels that divides both sides,
    so the lattice covers the image exactly. It keeps the field's standard
    deviation within 1 % of the full-resolution field's at every pixel
    (tests/test_augment.py) and draws a fraction of the random numbers,
    which on CPU cost more than the smoothing itself."""
    candidates = range(1, max(1, int(sigma // 2)) + 1)
    return max(d for d in candidates if int(size[0]) % d == 0 and int(size[1]) % d == 0)


def _elastic_components(batch, size, seed, alpha: float, sigma: float, spacing: int | None = None):
    """Displacements (dx, dy), each float32 [batch, height, width] in pixels."""
    spacing = lattice_spacing(sigma, size) if spacing is None else spacing
    rows = tf.constant(smoothing_matrix(int(size[0]), sigma, spacing))
    columns = tf.constant(smoothing_matrix(int(size[1]), sigma, spacing))
    noise = tf.random.stateless_uniform(tf.stack([2 * batch, rows.shape[1], columns.shape[1]]), seed, -1.0, 1.0)
    # Two matrix products (R N C^T per image and axis) smooth faster than a
    # separable depthwise convolution here (benchmarks/augmentation.py).
    field = alpha * tf.matmul(tf.matmul(rows, noise), columns, transpose_b=True)
    field = tf.reshape(field, tf.stack([2, batch, int(size[0]), int(size[1])]))
    return field[0], field[1]


def elastic_field(shape, seed: tf.Tensor, alpha: float, sigma: float, spacing: int | None = None) -> tf.Tensor:
    """Simard's random displacement field, float32 [batch, height, width, 2]
    holding (dx, dy) in pixels, for `shape` = (batch, height, width): uniform
    noise in [-1, 1] smoothed by a Gaussian of `sigma` pixels, times `alpha`.
    The noise lies on a lattice of `spacing` pixels (default
    lattice_spacing(sigma, (height, width))); spacing 1 is Simard's per-pixel noise."""
    dx, dy = _elastic_components(shape[0], shape[1:3], seed, alpha, sigma, spacing)
    return tf.stack([dx, dy], axis=-1)


def inverse_affine(rotation: tf.Tensor, scale: tf.Tensor, shear: tf.Tensor) -> tf.Tensor:
    """[batch, 2, 2] matrices mapping output offsets from the centre back to
    input offsets, for forward transforms R(rotation) Shear(shear) S(scale)
    (affine.py); rotation, shear: radians [batch]; scale: [batch, 2] (x, y)."""
    m00, m01, m10, m11 = affine.inverse_entries(rotation, scale[:, 0], scale[:, 1], shear, tf)
    return tf.stack([tf.stack([m00, m01], axis=-1), tf.stack([m10, m11], axis=-1)], axis=1)


def sample_affine(batch, seed: tf.Tensor, augmentation: Augmentation, size) -> tuple[tf.Tensor, tf.Tensor]:
    """Random inverse matrices [batch, 2, 2] and translations [batch, 2]
    (x, y pixels, forward direction) from one uniform draw of [batch, 6]."""
    return affine_from_draws(tf.random.stateless_uniform(tf.stack([batch, 6]), seed, -1.0, 1.0), augmentation, size)


def affine_from_draws(draws: tf.Tensor, augmentation: Augmentation, size) -> tuple[tf.Tensor, tf.Tensor]:
    """sample_affine's matrices and translations from its uniform draws in [-1, 1], [batch, 6]
    (affine.from_draws, which layers.RandomAffine reads too)."""
    (m00, m01, m10, m11), shift = affine.from_draws(draws, augmentation, size, tf)
    return tf.stack([tf.stack([m00, m01], axis=-1), tf.stack([m10, m11], axis=-1)], axis=1), shift


def sampling_points(inverse: tf.Tensor, translation: tf.Tensor, size, displacement=None) -> tuple[tf.Tensor, tf.Tensor]:
    """Input positions x, y [batch, height, width], relative to the image
    centre, that the output pixels read: inverse (p - centre - translation +
    displacement(p)), for output pixels p and `displacement` None or a pair
    (dx, dy) of [batch, height, width] in output pixels.

    Elementwise with broadcasting (a batched 2x2 matmul is much slower),
    and with no chain of additions: inside a tf.function Grappler regroups such
    chains, and the result would differ from eager's and tf.data's in the
    last bits."""
    height, width = int(size[0]), int(size[1])
    grid_y, grid_x = np.mgrid[:height, :width].astype(np.float32)
    entries = tf.reshape(inverse, [-1, 4, 1, 1])
    offset_x = tf.constant(grid_x[None] - (width - 1) / 2) - translation[:, 0, None, None]
    offset_y = tf.constant(grid_y[None] - (height - 1) / 2) - translation[:, 1, None, None]
    if displacement is not None:
        offset_x, offset_y = offset_x + displacement[0], offset_y + displacement[1]
    return entries[:, 0] * offset_x + entries[:, 1] * offset_y, entries[:, 2] * offset_x + entries[:, 3] * offset_y


def bilinear_sample(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """images [batch, height, width, channels] read at positions x, y [batch,
    height, width] relative to the image centre ((width - 1) / 2, (height - 1)
    / 2), by bilinear interpolation, zero outside.

    The images get a one-pixel border of zeros and the positions are clipped
    into it, so every neighbour outside the image reads a zero and none needs
    a mask; the four neighbours are four gathers of flat indices into
    [batch * (height + 2) * (width + 2), channels]."""
    height, width, channels = (int(d) for d in images.shape[1:4])
    padded = tf.reshape(tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]]), [-1, channels])
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    x = tf.clip_by_value(x, -1.0 - centre_x, width - centre_x) + centre_x
    y = tf.clip_by_value(y, -1.0 - centre_y, height - centre_y) + centre_y
    # x0 stops at width - 1, so x0 + 1 stays inside the border; at the border
    # itself the whole weight falls on x0 + 1, which reads the zero border.
    x0, y0 = tf.minimum(tf.floor(x), width - 1.0), tf.minimum(tf.floor(y), height - 1.0)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    base = tf.range(tf.shape(images)[0])[:, None, None] * ((height + 2) * (width + 2))
    top_left = base + tf.cast(y0 + 1.0, tf.int32) * (width + 2) + tf.cast(x0 + 1.0, tf.int32)

    def read(offset: int) -> tf.Tensor:
        return tf.gather(padded, top_left + offset)

    top_left_value, bottom_left_value = read(0), read(width + 2)
    top = top_left_value + fx * (read(1) - top_left_value)
    bottom = bottom_left_value + fx * (read(width + 3) - bottom_left_value)
    return top + fy * (bottom - top)


def warp(images: tf.Tensor, inverse: tf.Tensor, translation: tf.Tensor, displacement=None) -> tf.Tensor:
    """images moved by the affine transforms (inverse matrices [batch, 2, 2],
    translations [batch, 2] in pixels) and the optional elastic displacement
    (dx, dy), in one bilinear resampling, clipped to [0, 1]."""
    x, y = sampling_points(inverse, translation, images.shape[1:3], displacement)
    return tf.clip_by_value(bilinear_sample(images, x, y), 0.0, 1.0)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, preset, labels: tf.Tensor | None = None) -> tf.Tensor:
    """A randomly distorted copy of `images` (float32 [batch, height, width,
    channels] in [0, 1]), drawn from the preset named `preset` (or an
    Augmentation) with the stateless `seed` (int32/int64, shape [2]).

    Each image gets its own transform; the batch size may be unknown until run
    time. "none" returns `images` itself. `labels` [batch] are the digits that
    a preset's style edits depend on; without them a preset with style edits
    draws only those that need no label (pen, slant, width)."""
    augmentation = get_augmentation(preset)
    if augmentation.is_identity:
        return images
    # int32 and int64 seeds give different streams; one dtype makes them agree.
    seed = tf.cast(seed, tf.int64)
    if augmentation.has_styles:
        return _styled(images, seed, augmentation, labels)
    return _distorted(images, seed, augmentation)


def _distorted(images: tf.Tensor, seed: tf.Tensor, augmentation: Augmentation, labels=None) -> tf.Tensor:
    size, batch = images.shape[1:3], tf.shape(images)[0]
    affine_seed, elastic_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    inverse, translation = sample_affine(batch, affine_seed, augmentation, size)
    if augmentation.has_styles:
        # A stream of its own, so the affine and elastic draws stay those of the same preset without styles.
        style_seed = tf.random.experimental.stateless_fold_in(seed, 3)
        draws = tf.random.stateless_uniform(tf.stack([batch, styles.DRAWS]), style_seed)
        images, inverse, translation = styles.restyle(images, labels, draws, augmentation.styles, inverse,
                                                      translation, TF_OPS)
    displacement = None
    if augmentation.has_elastic:
        displacement = _elastic_components(batch, size, elastic_seed, augmentation.elastic_alpha,
                                           augmentation.elastic_sigma)
    return warp(images, inverse, translation, displacement)


# The style edits are many small ops on small arrays; compiled by XLA they run as a
# few fused loops instead of one kernel launch each, several times faster on CPU
# (benchmarks/styles.py). Eager calls, tf.functions and tf.data's map all run the
# same compiled code, so they give the same bits.
_styled = tf.function(_distorted, jit_compile=True, reduce_retracing=True)
