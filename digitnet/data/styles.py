"""Style edits of MNIST digits: the digits as writers outside MNIST write them.

MNIST's writers were American; elsewhere a 1 starts with a long up-stroke
(sometimes with a foot), a 7 and a 2 are crossed, a 4 is open at the top, a
9's tail curves or hooks to the left, and digits lean, narrow, widen and come
from markers and fine pens. Each edit works on the strokes of the digit
itself, with the writer's own stroke width, and depends on the label (an
up-stroke is drawn on 1s only). The parameters are a StyleCoverage
(presets.py).

- Strokes are anti-aliased line segments: a pixel's ink falls linearly from
  the digit's own ink level to 0 across the stroke's edge, one pixel wide.
  Where they start comes from the digit: its bounding box, the centre of its
  ink on a given row (the stem), the rightmost ink near its top.
- The stroke width is twice the stroke area over its edge pixels, as
  serving/preprocess.stroke_width measures it on photos.
- Pens: a window max (dilation) or min (erosion) of 3x3 pixels, blended with
  the digit by a random amount.
- Slant and width are an affine transform composed with the preset's own
  (affine.py), so the digit is resampled once. An edited digit is then fitted
  into MNIST's 20-pixel box and its centre of mass kept where it was, as
  MNIST's preparation (and digitnet.predict's) places every digit.

All of it is batched TensorFlow with stateless random draws, so augment.py
runs it inside the tf.data pipeline's map, seeded from (seed, epoch, batch).
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from digitnet.data import affine
from digitnet.data.presets import StyleCoverage

DIGIT_BOX = 20.0  # MNIST's digits fit a 20x20 box in the 28x28 field
INK = 0.3  # a pixel at this level or above counts as ink for boxes and stems
STROKE_LEVEL = 0.5  # stroke pixels for the stroke width: half the ink scale
SEGMENTS = 3  # line segments an edit may draw per image
# Columns of the per-image uniform draws.
(_APPLY, _VARIANT, _FOOT, _ANGLE, _LENGTH, _PLACE, _TILT, _FOOT_LENGTH, _TAIL_A, _TAIL_B,
 _PEN_APPLY, _PEN_KIND, _PEN_AMOUNT, _SHAPE_APPLY, _SLANT, _WIDTH, _DRAWS) = range(17)


def restyle(images: tf.Tensor, labels: tf.Tensor | None, seed: tf.Tensor, coverage: StyleCoverage,
            inverse: tf.Tensor, translation: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(images, inverse, translation) with the style edits: `images` float32 [batch, h, w, 1] in
    [0, 1] with their strokes and pens edited, and the affine transform (augment.py's inverse
    matrices [batch, 2, 2] and translations [batch, 2]) with the slant and width composed in.
    `labels` None draws the edits that need no label (pen, slant, width) only."""
    ink = images[..., 0]
    draws = tf.random.stateless_uniform(tf.stack([tf.shape(images)[0], _DRAWS]), seed)
    original, width = Profile(ink), stroke_width(ink)
    if labels is None:
        edited_strokes = tf.zeros_like(draws[:, 0], tf.bool)
    else:
        ink, edited_strokes = edit_strokes(ink, original, width, tf.cast(labels, tf.int32), draws, coverage)
    ink = change_pen(ink, width, draws, coverage)
    reshaped = draws[:, _SHAPE_APPLY] < coverage.shape
    inverse, translation = reshape(original, Profile(ink), draws, coverage, reshaped,
                                   edited_strokes | reshaped, inverse, translation)
    return ink[..., None], inverse, translation


# -- measuring the digit ---------------------------------------------------------------------------------------

def _grid(size) -> tuple[tf.Tensor, tf.Tensor]:
    """Pixel x and y coordinates, float32 [1, h, w]."""
    ys, xs = np.mgrid[:int(size[0]), :int(size[1])].astype(np.float32)
    return tf.constant(xs[None]), tf.constant(ys[None])


class Profile:
    """Row and column sums of a batch of digits (ink [batch, h, w]), from which every
    measure of the digit below is read: [batch, h] or [batch, w] arrays instead of
    whole images, so each measure costs little."""

    def __init__(self, ink: tf.Tensor):
        xs, _ = _grid(ink.shape[1:3])
        self.rows = tf.range(int(ink.shape[1]), dtype=tf.float32)[None]
        self.columns = tf.range(int(ink.shape[2]), dtype=tf.float32)[None]
        self.row_mass = tf.reduce_sum(ink, axis=2)
        self.row_moment = tf.reduce_sum(ink * xs, axis=2)  # sum of x times ink, per row
        self.column_mass = tf.reduce_sum(ink, axis=1)
        marked = ink >= INK
        self.marked_rows, self.marked_columns = tf.reduce_any(marked, axis=2), tf.reduce_any(marked, axis=1)
        self.rightmost = tf.reduce_max(tf.where(marked, xs, -1.0), axis=2)  # per row; -1 without ink


def bounding_box(profile: Profile) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """(left, top, right, bottom) float32 [batch]: the first and last columns and rows
    holding ink; an empty image gives its whole field."""
    def first_last(marked: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        count = int(marked.shape[1])
        first = tf.argmax(tf.cast(marked, tf.int32), axis=1)
        last = count - 1 - tf.argmax(tf.cast(marked[:, ::-1], tf.int32), axis=1)
        empty = ~tf.reduce_any(marked, axis=1)
        return (tf.where(empty, 0.0, tf.cast(first, tf.float32)),
                tf.where(empty, count - 1.0, tf.cast(last, tf.float32)))

    left, right = first_last(profile.marked_columns)
    top, bottom = first_last(profile.marked_rows)
    return left, top, right, bottom


def ink_centre_on_row(profile: Profile, row: tf.Tensor, fallback: tf.Tensor) -> tf.Tensor:
    """x of the ink's centre within a pixel of `row` [batch] (where a stem crosses it);
    `fallback` [batch] where that band holds no ink."""
    band = tf.cast(tf.abs(profile.rows - row[:, None]) <= 1.0, tf.float32)
    mass = tf.reduce_sum(band * profile.row_mass, axis=1)
    centre = tf.reduce_sum(band * profile.row_moment, axis=1) / tf.maximum(mass, 1e-6)
    return tf.where(mass > 0.1, centre, fallback)


def rightmost_ink_near(profile: Profile, top: tf.Tensor, rows: float, fallback: tf.Tensor) -> tf.Tensor:
    """The rightmost ink column within `rows` rows below `top` [batch]; `fallback` without ink there."""
    band = (profile.rows >= top[:, None]) & (profile.rows <= top[:, None] + rows)
    rightmost = tf.reduce_max(tf.where(band, profile.rightmost, -1.0), axis=1)
    return tf.where(rightmost >= 0, rightmost, fallback)


def centre_of_mass(profile: Profile) -> tf.Tensor:
    """(x, y) [batch, 2] of each image's ink; the field's centre for an empty one."""
    mass = tf.reduce_sum(profile.row_mass, axis=1)
    moments = tf.stack([tf.reduce_sum(profile.row_moment, axis=1),
                        tf.reduce_sum(profile.row_mass * profile.rows, axis=1)], axis=-1)
    centre = tf.stack([(profile.columns.shape[1] - 1) / 2, (profile.rows.shape[1] - 1) / 2])
    return tf.where(mass[:, None] > 0, moments / tf.maximum(mass, 1e-6)[:, None], tf.cast(centre, tf.float32))


def stroke_width(ink: tf.Tensor) -> tf.Tensor:
    """Each digit's mean stroke width in pixels, float32 [batch]: twice the area of its
    strokes (pixels of at least half the ink scale) over their edge pixels (those with a
    4-neighbour outside the strokes); 2 for an image without strokes."""
    strokes = tf.cast(ink >= STROKE_LEVEL, tf.float32)
    padded = tf.pad(strokes, [[0, 0], [1, 1], [1, 1]])
    inner = strokes * padded[:, :-2, 1:-1] * padded[:, 2:, 1:-1] * padded[:, 1:-1, :-2] * padded[:, 1:-1, 2:]
    area = tf.reduce_sum(strokes, axis=[1, 2])
    edge = area - tf.reduce_sum(inner, axis=[1, 2])
    return tf.where(edge > 0, 2.0 * area / tf.maximum(edge, 1.0), 2.0)


# -- strokes ---------------------------------------------------------------------------------------------------

def draw_segments(starts: tf.Tensor, ends: tf.Tensor, active: tf.Tensor, width: tf.Tensor, level: tf.Tensor,
                  size) -> tf.Tensor:
    """Anti-aliased line segments, float32 [batch, h, w]: segment k of an image runs from
    starts[:, k] to ends[:, k] ((x, y) pixels, [batch, k, 2]) where `active` [batch, k] is
    True, `width` [batch] pixels wide with round ends, at ink `level` [batch]."""
    xs, ys = _grid(size)
    xs, ys = xs[:, None], ys[:, None]  # [1, 1, h, w] against [batch, k, 1, 1]
    ax, ay = starts[..., 0, None, None], starts[..., 1, None, None]
    dx, dy = ends[..., 0, None, None] - ax, ends[..., 1, None, None] - ay
    along = tf.clip_by_value(((xs - ax) * dx + (ys - ay) * dy) / tf.maximum(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
    distance = tf.sqrt(tf.square(xs - ax - along * dx) + tf.square(ys - ay - along * dy))
    cover = tf.clip_by_value(width[:, None, None, None] / 2 + 0.5 - distance, 0.0, 1.0)
    cover = cover * tf.cast(active, tf.float32)[..., None, None]
    return tf.reduce_max(cover, axis=1) * level[:, None, None]


def _point(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    return tf.stack([x, y], axis=-1)


def _uniform(draws: tf.Tensor, column: int, low: float, high: float) -> tf.Tensor:
    return low + (high - low) * draws[:, column]


def edit_strokes(ink: tf.Tensor, profile: Profile, width: tf.Tensor, labels: tf.Tensor, draws: tf.Tensor,
                 coverage: StyleCoverage) -> tuple[tf.Tensor, tf.Tensor]:
    """(ink [batch, h, w], edited [batch] bool): each 1, 2, 4, 7 and 9 drawn with its
    stroke edit with probability coverage.stroke, with the stroke `width` [batch];
    other digits and the rest unchanged. `profile` is the ink's."""
    left, top, right, bottom = bounding_box(profile)
    height = bottom - top + 1.0
    middle = (left + right) / 2
    level = tf.reduce_max(ink, axis=[1, 2])
    apply = draws[:, _APPLY] < coverage.stroke
    bare = draws[:, _VARIANT] < coverage.bare_one

    # The 1: the stem's top and foot, an up-stroke falling to the left, a foot.
    stem_top = _point(ink_centre_on_row(profile, top + 1.0, middle), top + width / 2)
    stem_foot = _point(ink_centre_on_row(profile, bottom - 1.0, middle), bottom - width / 2)
    angle = _uniform(draws, _ANGLE, math.radians(20), math.radians(55))
    length = height * _uniform(draws, _LENGTH, 0.25, 0.5)
    flag_end = stem_top + _point(-length * tf.cos(angle), length * tf.sin(angle))
    foot_half = height * _uniform(draws, _FOOT_LENGTH, 0.15, 0.28)
    foot = (stem_foot - _point(foot_half, 0.0 * foot_half), stem_foot + _point(foot_half, 0.0 * foot_half))
    with_foot = draws[:, _FOOT] < coverage.foot

    # The 7 and the 2: a bar across the stem (the ink's centre on the bar's row).
    bar_row = top + height * tf.where(tf.equal(labels, 7), _uniform(draws, _PLACE, 0.45, 0.62),
                                      _uniform(draws, _PLACE, 0.4, 0.6))
    bar_centre = ink_centre_on_row(profile, bar_row, middle) + height * _uniform(draws, _FOOT_LENGTH, -0.05, 0.05)
    bar_half = height * _uniform(draws, _LENGTH, 0.15, 0.25)
    tilt = _uniform(draws, _TILT, -math.radians(8), math.radians(8))
    bar_offset = _point(bar_half * tf.cos(tilt), -bar_half * tf.sin(tilt))
    bar_middle = _point(bar_centre, bar_row)

    # The 9: the tail goes on down a little, then curves (or hooks back up) to the left.
    hooked = draws[:, _VARIANT] < 0.5
    tail_1 = stem_foot + _point(-0.04 * height, 0.07 * height)
    tail_2 = tail_1 + height[:, None] * _point(-_uniform(draws, _TAIL_A, 0.08, 0.18),
                                      tf.where(hooked, 0.02, _uniform(draws, _TAIL_B, 0.03, 0.07)))
    tail_3 = tail_2 + height[:, None] * _point(-tf.where(hooked, _uniform(draws, _TAIL_B, 0.02, 0.06),
                                                _uniform(draws, _TAIL_B, 0.06, 0.12)),
                                      -tf.where(hooked, _uniform(draws, _TAIL_A, 0.1, 0.2),
                                                _uniform(draws, _TAIL_A, 0.0, 0.05)))

    is_one, is_nine = tf.equal(labels, 1), tf.equal(labels, 9)
    is_barred = tf.equal(labels, 7) | tf.equal(labels, 2)
    starts = tf.stack([
        tf.where(is_one[:, None], stem_top, tf.where(is_nine[:, None], stem_foot, bar_middle - bar_offset)),
        tf.where(is_one[:, None], foot[0], tail_1),
        tail_2,
    ], axis=1)
    ends = tf.stack([
        tf.where(is_one[:, None], tf.where(bare[:, None], stem_foot, flag_end),
                 tf.where(is_nine[:, None], tail_1, bar_middle + bar_offset)),
        tf.where(is_one[:, None], foot[1], tail_2),
        tail_3,
    ], axis=1)
    active = tf.stack([is_one | is_nine | is_barred,
                       (is_one & ~bare & with_foot) | is_nine,
                       is_nine], axis=1) & apply[:, None]
    segments = draw_segments(starts, ends, active, width, level, ink.shape[1:3])

    opened = apply & tf.equal(labels, 4)
    ink = tf.where(opened[:, None, None], ink * (1.0 - open_top_mask(profile, top, height, width, draws)), ink)
    redrawn = apply & is_one & bare
    edited = apply & (is_one | is_nine | is_barred | tf.equal(labels, 4))
    return tf.where(redrawn[:, None, None], segments, tf.maximum(ink, segments)), edited


def open_top_mask(profile: Profile, top: tf.Tensor, height: tf.Tensor, width: tf.Tensor,
                  draws: tf.Tensor) -> tf.Tensor:
    """[batch, h, w] in [0, 1]: the ink to erase to open a 4 at the top: the top
    15-30 % of the digit left of its stem (the rightmost ink near the top), with a
    one-pixel soft edge. A closed 4 loses the top of its diagonal; an open one
    the top of its left arm."""
    xs, ys = _grid((profile.rows.shape[1], profile.columns.shape[1]))
    stem = rightmost_ink_near(profile, top, 2.0, tf.zeros_like(top))
    cut_row = top + height * _uniform(draws, _PLACE, 0.15, 0.3)
    left_of_stem = tf.clip_by_value((stem - width)[:, None, None] - xs + 0.5, 0.0, 1.0)
    above_cut = tf.clip_by_value(cut_row[:, None, None] - ys + 0.5, 0.0, 1.0)
    return left_of_stem * above_cut


# -- pens ------------------------------------------------------------------------------------------------------

def _dilate(ink: tf.Tensor) -> tf.Tensor:
    """The maximum over each pixel's 3x3 window (zero outside the image), as a row
    maximum then a column maximum of shifted copies: elementwise, so XLA fuses it."""
    rows = tf.pad(ink, [[0, 0], [0, 0], [1, 1]])
    widened = tf.maximum(tf.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])
    columns = tf.pad(widened, [[0, 0], [1, 1], [0, 0]])
    return tf.maximum(tf.maximum(columns[:, :-2], columns[:, 1:-1]), columns[:, 2:])


def change_pen(ink: tf.Tensor, width: tf.Tensor, draws: tf.Tensor, coverage: StyleCoverage) -> tf.Tensor:
    """With probability coverage.pen, a marker (dilation, once or for a quarter of
    them twice) or a fine pen (erosion, only on strokes over 2.6 pixels wide, which
    it leaves at least a pixel wide, at the digit's ink level), blended with the digit by a
    random amount. `width` [batch]: the digit's stroke width."""
    apply = draws[:, _PEN_APPLY] < coverage.pen
    kind = draws[:, _PEN_KIND]
    amount = draws[:, _PEN_AMOUNT, None, None]
    once = _dilate(ink)
    marker = tf.where((kind > 0.75)[:, None, None], _dilate(once), once)
    fine = -_dilate(-ink)
    thicker = ink + (0.5 + 0.5 * amount) * (marker - ink)
    thinner = ink + (0.4 + 0.4 * amount) * (fine - ink)
    # Erosion also lowers the anti-aliased strokes' peak: a fine pen's line is thin, not faint.
    level = tf.reduce_max(ink, axis=[1, 2], keepdims=True)
    thinner = tf.minimum(thinner * level / tf.maximum(tf.reduce_max(thinner, axis=[1, 2], keepdims=True), 1e-6),
                         1.0)
    can_thin = width > 2.6
    changed = tf.where((kind < 0.5)[:, None, None], thicker, tf.where(can_thin[:, None, None], thinner, ink))
    return tf.where(apply[:, None, None], changed, ink)


# -- slant, width, box and centre ------------------------------------------------------------------------------

def _inverse_2x2(matrix: tf.Tensor) -> tf.Tensor:
    a, b, c, d = matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 1, 0], matrix[:, 1, 1]
    determinant = a * d - b * c
    return tf.stack([tf.stack([d, -b], axis=-1), tf.stack([-c, a], axis=-1)], axis=1) / determinant[:, None, None]


def reshape(original: Profile, edited_ink: Profile, draws: tf.Tensor, coverage: StyleCoverage,
            reshaped: tf.Tensor, edited: tf.Tensor, inverse: tf.Tensor,
            translation: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The preset's affine transform (inverse [batch, 2, 2], translation [batch, 2]) with, for
    the `reshaped` images, a slant and a width factor (at most 1 for digits under half as wide
    as tall) composed in before it; every `edited`
    image is also scaled down to fit MNIST's 20-pixel box (where its strokes or shape
    outgrew it) and moved so that its centre of mass lands where the `original`'s lay
    (both Profiles: of the digits before and after the edits)."""
    slant = tf.where(reshaped, _uniform(draws, _SLANT, -1.0, 1.0) * math.radians(coverage.slant_degrees), 0.0)
    log_width = _uniform(draws, _WIDTH, math.log(coverage.narrowest), math.log(coverage.widest))
    left, top, right, bottom = bounding_box(edited_ink)
    width, height = right - left + 1.0, bottom - top + 1.0
    # A digit under half as wide as tall (a 1) is not widened: that would only thicken its stroke.
    factor = tf.exp(tf.where(width < 0.5 * height, tf.minimum(log_width, 0.0), log_width))
    factor = tf.where(reshaped, factor, 1.0)
    longer = tf.maximum(factor * width + tf.abs(tf.tan(slant)) * height, height)
    fit = tf.where(edited, tf.minimum(1.0, DIGIT_BOX / longer), 1.0)
    m00, m01, m10, m11 = affine.inverse_entries(tf.zeros_like(slant), fit * factor, fit, slant, tf)
    style_inverse = tf.stack([tf.stack([m00, m01], axis=-1), tf.stack([m10, m11], axis=-1)], axis=1)
    combined = tf.matmul(style_inverse, inverse)
    centre = tf.constant([(original.columns.shape[1] - 1) / 2, (original.rows.shape[1] - 1) / 2], tf.float32)
    # Forward: p_out = F (p_in - centre) + centre + t, F the inverse of `combined`.
    moved = tf.linalg.matvec(_inverse_2x2(combined), centre_of_mass(edited_ink) - centre)
    recentred = translation + (centre_of_mass(original) - centre) - moved
    return combined, tf.where(edited[:, None], recentred, translation)
