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
- A stroke edit keeps the digit's loops: a digit whose new strokes would
  close, split or fill a loop (a 9's hook meeting its loop is an 8) is left as
  it was, found by its Euler number (pieces less loops) from 2x2 pixel counts.
- The stroke width is twice the stroke area over its edge pixels, as
  serving/preprocess.stroke_width measures it on photos.
- Pens: a window max (dilation) or min (erosion) of 3x3 pixels, blended with
  the digit by a random amount.
- Slant and width are an affine transform composed with the preset's own
  (affine.py), so the digit is resampled once. An edited digit is then fitted
  into MNIST's 20-pixel box and its centre of mass kept where it was, as
  MNIST's preparation (and digitnet.predict's) places every digit.

All of it is batched array maths written once over `xp`, a namespace of
keras.ops' names: augment.TF_OPS (TensorFlow ops) inside the tf.data
pipeline's map, keras.ops itself in layers.RandomAffine on any Keras backend.
The uniform draws in [0, 1), [batch, DRAWS], come from each caller's own
generator (stateless draws from (seed, epoch, batch) in the pipeline, the
layer's SeedGenerator), as the affine draws do (affine.py).
"""
from __future__ import annotations

import math

import numpy as np

from digitnet.data import affine
from digitnet.data.presets import StyleCoverage

DIGIT_BOX = 20.0  # MNIST's digits fit a 20x20 box in the 28x28 field
INK = 0.3  # a pixel at this level or above counts as ink for boxes and stems
STROKE_LEVEL = 0.5  # stroke pixels for the stroke width: half the ink scale
SEGMENTS = 3  # line segments an edit may draw per image
FLAG_FALL = math.radians(25)  # the least slope of a 1's up-stroke below the horizontal
TAIL_CLEARANCE = 2.0  # pixels of background between a 9's tail and its stem, and the ink above it
# Columns of the per-image uniform draws; DRAWS of them.
(_APPLY, _VARIANT, _FOOT, _ANGLE, _LENGTH, _PLACE, _TILT, _FOOT_LENGTH, _TAIL_A, _TAIL_B,
 _PEN_APPLY, _PEN_KIND, _PEN_AMOUNT, _SHAPE_APPLY, _SLANT, _WIDTH, DRAWS) = range(17)


def restyle(images, labels, draws, coverage: StyleCoverage, inverse, translation, xp) -> tuple:
    """(images, inverse, translation) with the style edits: `images` float32 [batch, h, w, 1] in
    [0, 1] with their strokes and pens edited, and the affine transform (inverse matrices
    [batch, 2, 2] and forward translations [batch, 2] in pixels, augment.sample_affine's) with the
    slant and width composed in. `draws`: uniform in [0, 1), [batch, DRAWS]. `labels` None draws
    the edits that need no label (pen, slant, width) only."""
    ink = images[..., 0]
    original, width = Profile(ink, xp), stroke_width(ink, xp)
    if labels is None:
        edited_strokes = xp.zeros_like(draws[:, 0], dtype="bool")
    else:
        ink, edited_strokes = edit_strokes(ink, original, width, xp.cast(labels, "int32"), draws, coverage, xp)
    ink = change_pen(ink, width, draws, coverage, xp)
    reshaped = draws[:, _SHAPE_APPLY] < coverage.shape
    inverse, translation = reshape(original, Profile(ink, xp), draws, coverage, reshaped,
                                   edited_strokes | reshaped, inverse, translation, xp)
    return ink[..., None], inverse, translation


# -- measuring the digit ---------------------------------------------------------------------------------------

def _grid(size, xp) -> tuple:
    """Pixel x and y coordinates, float32 [1, h, w]."""
    ys, xs = np.mgrid[:int(size[0]), :int(size[1])].astype(np.float32)
    return xp.convert_to_tensor(xs[None]), xp.convert_to_tensor(ys[None])


class Profile:
    """Row and column sums of a batch of digits (ink [batch, h, w]), from which every
    measure of the digit below is read: [batch, h] or [batch, w] arrays instead of
    whole images, so each measure costs little."""

    def __init__(self, ink, xp):
        xs, ys = _grid(ink.shape[1:3], xp)
        self.rows = xp.convert_to_tensor(np.arange(int(ink.shape[1]), dtype=np.float32)[None])
        self.columns = xp.convert_to_tensor(np.arange(int(ink.shape[2]), dtype=np.float32)[None])
        self.row_mass = xp.sum(ink, axis=2)
        self.row_moment = xp.sum(ink * xs, axis=2)  # sum of x times ink, per row
        self.column_mass = xp.sum(ink, axis=1)
        marked = ink >= INK
        self.marked_rows, self.marked_columns = xp.any(marked, axis=2), xp.any(marked, axis=1)
        self.rightmost = xp.max(xp.where(marked, xs, -1.0), axis=2)  # per row; -1 without ink
        self.lowest = xp.max(xp.where(marked, ys, -1.0), axis=1)  # per column; -1 without ink


def bounding_box(profile: Profile, xp) -> tuple:
    """(left, top, right, bottom) float32 [batch]: the first and last columns and rows
    holding ink; an empty image gives its whole field."""
    def first_last(marked) -> tuple:
        count = int(marked.shape[1])
        first = xp.argmax(xp.cast(marked, "int32"), axis=1)
        last = count - 1 - xp.argmax(xp.flip(xp.cast(marked, "int32"), axis=1), axis=1)
        empty = ~xp.any(marked, axis=1)
        return (xp.where(empty, 0.0, xp.cast(first, "float32")),
                xp.where(empty, count - 1.0, xp.cast(last, "float32")))

    left, right = first_last(profile.marked_columns)
    top, bottom = first_last(profile.marked_rows)
    return left, top, right, bottom


def ink_centre_on_row(profile: Profile, row, fallback, xp):
    """x of the ink's centre within a pixel of `row` [batch] (where a stem crosses it);
    `fallback` [batch] where that band holds no ink."""
    band = xp.cast(xp.abs(profile.rows - row[:, None]) <= 1.0, "float32")
    mass = xp.sum(band * profile.row_mass, axis=1)
    centre = xp.sum(band * profile.row_moment, axis=1) / xp.maximum(mass, 1e-6)
    return xp.where(mass > 0.1, centre, fallback)


def rightmost_ink_near(profile: Profile, top, rows: float, fallback, xp):
    """The rightmost ink column within `rows` rows below `top` [batch]; `fallback` without ink there."""
    band = (profile.rows >= top[:, None]) & (profile.rows <= top[:, None] + rows)
    rightmost = xp.max(xp.where(band, profile.rightmost, -1.0), axis=1)
    return xp.where(rightmost >= 0, rightmost, fallback)


def lowest_ink_between(profile: Profile, left, right, xp):
    """The lowest ink row (the largest y) in the columns from `left` to `right` [batch];
    -1 where those columns hold no ink."""
    band = (profile.columns >= left[:, None]) & (profile.columns <= right[:, None])
    return xp.max(xp.where(band, profile.lowest, -1.0), axis=1)


def centre_of_mass(profile: Profile, xp):
    """(x, y) [batch, 2] of each image's ink; the field's centre for an empty one."""
    mass = xp.sum(profile.row_mass, axis=1)
    moments = xp.stack([xp.sum(profile.row_moment, axis=1),
                        xp.sum(profile.row_mass * profile.rows, axis=1)], axis=-1)
    centre = _field_centre(profile, xp)
    return xp.where(mass[:, None] > 0, moments / xp.maximum(mass, 1e-6)[:, None], centre)


def _field_centre(profile: Profile, xp):
    """(x, y) float32 [2] of the field's centre pixel."""
    return xp.convert_to_tensor(np.array([(profile.columns.shape[1] - 1) / 2, (profile.rows.shape[1] - 1) / 2],
                                         np.float32))


def stroke_width(ink, xp):
    """Each digit's mean stroke width in pixels, float32 [batch]: twice the area of its
    strokes (pixels of at least half the ink scale) over their edge pixels (those with a
    4-neighbour outside the strokes); 2 for an image without strokes."""
    strokes = xp.cast(ink >= STROKE_LEVEL, "float32")
    padded = xp.pad(strokes, [[0, 0], [1, 1], [1, 1]])
    inner = strokes * padded[:, :-2, 1:-1] * padded[:, 2:, 1:-1] * padded[:, 1:-1, :-2] * padded[:, 1:-1, 2:]
    area = xp.sum(strokes, axis=(1, 2))
    edge = area - xp.sum(inner, axis=(1, 2))
    return xp.where(edge > 0, 2.0 * area / xp.maximum(edge, 1.0), 2.0)


# -- strokes ---------------------------------------------------------------------------------------------------

def draw_segments(starts, ends, active, width, level, size, xp):
    """Anti-aliased line segments, float32 [batch, h, w]: segment k of an image runs from
    starts[:, k] to ends[:, k] ((x, y) pixels, [batch, k, 2]) where `active` [batch, k] is
    True, `width` [batch] pixels wide with round ends, at ink `level` [batch]."""
    xs, ys = _grid(size, xp)
    xs, ys = xs[:, None], ys[:, None]  # [1, 1, h, w] against [batch, k, 1, 1]
    ax, ay = starts[..., 0, None, None], starts[..., 1, None, None]
    dx, dy = ends[..., 0, None, None] - ax, ends[..., 1, None, None] - ay
    along = xp.clip(((xs - ax) * dx + (ys - ay) * dy) / xp.maximum(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
    distance = xp.sqrt(xp.square(xs - ax - along * dx) + xp.square(ys - ay - along * dy))
    cover = xp.clip(width[:, None, None, None] / 2 + 0.5 - distance, 0.0, 1.0)
    cover = cover * xp.cast(active, "float32")[..., None, None]
    return xp.max(cover, axis=1) * level[:, None, None]


def _uniform(draws, column: int, low: float, high: float):
    return low + (high - low) * draws[:, column]


class _Strokes:
    """Where each digit's stroke edit goes, from its Profile, stroke `width` and draws: the
    points of the 1's up-stroke and foot, the 7's and 2's bar and the 9's tail, each [batch, 2]."""

    def __init__(self, profile: Profile, width, labels, draws, xp):
        self.xp = xp
        left, self.top, right, bottom = bounding_box(profile, xp)
        self.height = bottom - self.top + 1.0
        self.middle = (left + right) / 2
        self.stem_top = self.point(ink_centre_on_row(profile, self.top + 1.0, self.middle, xp),
                                   self.top + width / 2)
        self.stem_foot = self.point(ink_centre_on_row(profile, bottom - 1.0, self.middle, xp), bottom - width / 2)
        self.one(draws)
        self.bar(profile, labels, draws)
        self.tail(profile, width, draws)

    def point(self, x, y):
        return self.xp.stack([x, y], axis=-1)

    def one(self, draws) -> None:
        """The 1: an up-stroke falling to the left from the stem's top at 30-50 degrees from the
        stem, as the writer draws it against the stem however slanted (one measured from the
        horizontal lies along a stem slanted to the right and pinches a loop against it), and
        at least FLAG_FALL below the horizontal (flatter, on a stem slanted to the right, it
        is a 7's bar); a foot across the stem's foot."""
        xp, height = self.xp, self.height
        down = self.stem_foot - self.stem_top
        down = down / xp.maximum(xp.sqrt(xp.sum(xp.square(down), axis=1)), 1e-6)[:, None]
        angle = _uniform(draws, _ANGLE, math.radians(30), math.radians(50))  # from the stem, turned left
        cos, sin = xp.cos(angle), xp.sin(angle)
        flag = self.point(down[:, 0] * cos - down[:, 1] * sin, down[:, 0] * sin + down[:, 1] * cos)
        steepest = xp.convert_to_tensor(np.array([-math.cos(FLAG_FALL), math.sin(FLAG_FALL)], np.float32))
        flag = xp.where(flag[:, 1:] < math.sin(FLAG_FALL), steepest[None], flag)
        length = height * _uniform(draws, _LENGTH, 0.25, 0.5)
        self.flag_end = self.stem_top + length[:, None] * flag
        foot_half = height * _uniform(draws, _FOOT_LENGTH, 0.15, 0.28)
        self.foot = (self.stem_foot - self.point(foot_half, 0.0 * foot_half),
                     self.stem_foot + self.point(foot_half, 0.0 * foot_half))

    def bar(self, profile: Profile, labels, draws) -> None:
        """The 7 and the 2: a bar across the stem (the ink's centre on the bar's row)."""
        xp, height = self.xp, self.height
        bar_row = self.top + height * xp.where(xp.equal(labels, 7), _uniform(draws, _PLACE, 0.45, 0.62),
                                               _uniform(draws, _PLACE, 0.4, 0.6))
        bar_centre = (ink_centre_on_row(profile, bar_row, self.middle, xp)
                      + height * _uniform(draws, _FOOT_LENGTH, -0.05, 0.05))
        bar_half = height * _uniform(draws, _LENGTH, 0.15, 0.25)
        tilt = _uniform(draws, _TILT, -math.radians(8), math.radians(8))
        self.bar_offset = self.point(bar_half * xp.cos(tilt), -bar_half * xp.sin(tilt))
        self.bar_middle = self.point(bar_centre, bar_row)

    def tail(self, profile: Profile, width, draws) -> None:
        """The 9: the tail goes on down a little, then curves (or hooks back up) to the left. Its end
        leaves TAIL_CLEARANCE of background beside the stem (a hook that rises next to the stem fills
        the gap between them into a knot) and below the lowest ink in the columns it reaches over
        (a hook that rose to the loop or to the tail's own curve would close a second loop: an 8)."""
        xp, height = self.xp, self.height
        hooked = draws[:, _VARIANT] < 0.5
        self.tail_1 = self.stem_foot + self.point(-0.04 * height, 0.07 * height)
        self.tail_2 = self.tail_1 + height[:, None] * self.point(
            -_uniform(draws, _TAIL_A, 0.08, 0.18), xp.where(hooked, 0.02, _uniform(draws, _TAIL_B, 0.03, 0.07)))
        tail_3 = self.tail_2 + height[:, None] * self.point(
            -xp.where(hooked, _uniform(draws, _TAIL_B, 0.02, 0.06), _uniform(draws, _TAIL_B, 0.06, 0.12)),
            -xp.where(hooked, _uniform(draws, _TAIL_A, 0.1, 0.2), _uniform(draws, _TAIL_A, 0.0, 0.05)))
        tail_3 = self.point(xp.minimum(tail_3[:, 0], self.stem_foot[:, 0] - width - TAIL_CLEARANCE), tail_3[:, 1])
        reach = width / 2 + TAIL_CLEARANCE
        floor = lowest_ink_between(profile, tail_3[:, 0] - reach,
                                   xp.minimum(self.tail_2[:, 0], self.stem_foot[:, 0] - reach), xp)
        lowest_end = xp.where(floor >= 0, floor + reach, tail_3[:, 1])
        self.tail_3 = self.point(tail_3[:, 0], xp.maximum(tail_3[:, 1], lowest_end))


def edit_strokes(ink, profile: Profile, width, labels, draws, coverage: StyleCoverage, xp) -> tuple:
    """(ink [batch, h, w], edited [batch] bool): each 1, 2, 4, 7 and 9 drawn with its
    stroke edit with probability coverage.stroke, with the stroke `width` [batch];
    other digits and the rest unchanged. `profile` is the ink's."""
    at = _Strokes(profile, width, labels, draws, xp)
    level = xp.max(ink, axis=(1, 2))
    apply = draws[:, _APPLY] < coverage.stroke
    bare = draws[:, _VARIANT] < coverage.bare_one
    with_foot = draws[:, _FOOT] < coverage.foot
    is_one, is_nine = xp.equal(labels, 1), xp.equal(labels, 9)
    is_barred = xp.equal(labels, 7) | xp.equal(labels, 2)
    starts = xp.stack([
        xp.where(is_one[:, None], at.stem_top, xp.where(is_nine[:, None], at.stem_foot, at.bar_middle - at.bar_offset)),
        xp.where(is_one[:, None], at.foot[0], at.tail_1),
        at.tail_2,
    ], axis=1)
    ends = xp.stack([
        xp.where(is_one[:, None], xp.where(bare[:, None], at.stem_foot, at.flag_end),
                 xp.where(is_nine[:, None], at.tail_1, at.bar_middle + at.bar_offset)),
        xp.where(is_one[:, None], at.foot[1], at.tail_2),
        at.tail_3,
    ], axis=1)
    active = xp.stack([is_one | is_nine | is_barred,
                       (is_one & ~bare & with_foot) | is_nine,
                       is_nine], axis=1) & apply[:, None]
    segments = draw_segments(starts, ends, active, width, level, ink.shape[1:3], xp)
    redrawn = apply & is_one & bare
    stroked = xp.where(redrawn[:, None, None], segments, xp.maximum(ink, segments))
    # A stroke that closes, splits or fills a loop draws another digit (a 9's hook meeting its loop
    # is an 8, a bar under a 7's serif a 4, a bar across a curly 2's loop an 8): such a digit stays
    # as it was.
    kept = redrawn | ~changes_loops(ink, stroked, xp)  # a bare stroke closes nothing
    stroked = xp.where(kept[:, None, None], stroked, ink)

    opened = apply & xp.equal(labels, 4)
    stroked = xp.where(opened[:, None, None],
                       ink * (1.0 - open_top_mask(profile, at.top, at.height, width, draws, xp)), stroked)
    edited = apply & ((kept & (is_one | is_nine | is_barred)) | xp.equal(labels, 4))
    return stroked, edited


def euler_number(ink, xp):
    """float32 [batch]: pieces of ink (8-connected, at INK or above) less loops (4-connected
    background that does not reach the field's edge), from the counts of 2x2 windows by their ink
    pixels (Gray's bit quads): a few sums over the image, where counting loops by a flood fill
    costs a step per pixel of the longest path."""
    marked = xp.pad(xp.cast(ink >= INK, "float32"), [[0, 0], [1, 1], [1, 1]])
    top_left, top_right = marked[:, :-1, :-1], marked[:, :-1, 1:]
    bottom_left, bottom_right = marked[:, 1:, :-1], marked[:, 1:, 1:]
    count = top_left + top_right + bottom_left + bottom_right
    diagonal = (top_left * bottom_right * (1.0 - top_right) * (1.0 - bottom_left)
                + top_right * bottom_left * (1.0 - top_left) * (1.0 - bottom_right))
    ones = xp.sum(xp.cast(xp.equal(count, 1.0), "float32"), axis=(1, 2))
    threes = xp.sum(xp.cast(xp.equal(count, 3.0), "float32"), axis=(1, 2))
    return (ones - threes - 2.0 * xp.sum(diagonal, axis=(1, 2))) / 4.0


def changes_loops(before, after, xp):
    """bool [batch]: `after` (ink [batch, h, w]) has another count of pieces less loops than
    `before`. A stroke drawn from the digit's own strokes keeps it unless it closes a loop,
    splits one in two or fills one; a stroke that joins two pieces of a broken digit, or that
    stands apart, counts too, which only errs towards leaving a digit as it was."""
    return xp.abs(euler_number(after, xp) - euler_number(before, xp)) > 0.5


def open_top_mask(profile: Profile, top, height, width, draws, xp):
    """[batch, h, w] in [0, 1]: the ink to erase to open a 4 at the top: the top
    15-30 % of the digit left of its stem (the rightmost ink near the top), with a
    one-pixel soft edge. A closed 4 loses the top of its diagonal; an open one
    the top of its left arm."""
    xs, ys = _grid((profile.rows.shape[1], profile.columns.shape[1]), xp)
    stem = rightmost_ink_near(profile, top, 2.0, xp.zeros_like(top), xp)
    cut_row = top + height * _uniform(draws, _PLACE, 0.15, 0.3)
    left_of_stem = xp.clip((stem - width)[:, None, None] - xs + 0.5, 0.0, 1.0)
    above_cut = xp.clip(cut_row[:, None, None] - ys + 0.5, 0.0, 1.0)
    return left_of_stem * above_cut


# -- pens ------------------------------------------------------------------------------------------------------

def _dilate(ink, xp):
    """The maximum over each pixel's 3x3 window (zero outside the image), as a row
    maximum then a column maximum of shifted copies: elementwise, so XLA fuses it."""
    rows = xp.pad(ink, [[0, 0], [0, 0], [1, 1]])
    widened = xp.maximum(xp.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])
    columns = xp.pad(widened, [[0, 0], [1, 1], [0, 0]])
    return xp.maximum(xp.maximum(columns[:, :-2], columns[:, 1:-1]), columns[:, 2:])


def change_pen(ink, width, draws, coverage: StyleCoverage, xp):
    """With probability coverage.pen, a marker (dilation, once or for a quarter of
    them twice) or a fine pen (erosion, only on strokes over 2.6 pixels wide, which
    it leaves at least a pixel wide, at the digit's ink level), blended with the digit by a
    random amount. `width` [batch]: the digit's stroke width."""
    apply = draws[:, _PEN_APPLY] < coverage.pen
    kind = draws[:, _PEN_KIND]
    amount = draws[:, _PEN_AMOUNT, None, None]
    once = _dilate(ink, xp)
    marker = xp.where((kind > 0.75)[:, None, None], _dilate(once, xp), once)
    fine = -_dilate(-ink, xp)
    thicker = ink + (0.5 + 0.5 * amount) * (marker - ink)
    thinner = ink + (0.4 + 0.4 * amount) * (fine - ink)
    # Erosion also lowers the anti-aliased strokes' peak: a fine pen's line is thin, not faint.
    level = xp.max(ink, axis=(1, 2), keepdims=True)
    thinner = xp.minimum(thinner * level / xp.maximum(xp.max(thinner, axis=(1, 2), keepdims=True), 1e-6), 1.0)
    can_thin = width > 2.6
    changed = xp.where((kind < 0.5)[:, None, None], thicker, xp.where(can_thin[:, None, None], thinner, ink))
    return xp.where(apply[:, None, None], changed, ink)


# -- slant, width, box and centre ------------------------------------------------------------------------------

def _inverse_2x2(matrix, xp):
    a, b, c, d = matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 1, 0], matrix[:, 1, 1]
    determinant = a * d - b * c
    return xp.stack([xp.stack([d, -b], axis=-1), xp.stack([-c, a], axis=-1)], axis=1) / determinant[:, None, None]


def _matvec(matrix, vector, xp):
    """[batch, 2, 2] times [batch, 2]: a batched matmul, as TensorFlow's linalg.matvec computes it."""
    return xp.matmul(matrix, vector[..., None])[..., 0]


def reshape(original: Profile, edited_ink: Profile, draws, coverage: StyleCoverage, reshaped, edited, inverse,
            translation, xp) -> tuple:
    """The preset's affine transform (inverse [batch, 2, 2], translation [batch, 2]) with, for
    the `reshaped` images, a slant and a width factor (at most 1 for digits under half as wide
    as tall) composed in before it; every `edited`
    image is also scaled down to fit MNIST's 20-pixel box (where its strokes or shape
    outgrew it) and moved so that its centre of mass lands where the `original`'s lay
    (both Profiles: of the digits before and after the edits)."""
    slant = xp.where(reshaped, _uniform(draws, _SLANT, -1.0, 1.0) * math.radians(coverage.slant_degrees), 0.0)
    log_width = _uniform(draws, _WIDTH, math.log(coverage.narrowest), math.log(coverage.widest))
    left, top, right, bottom = bounding_box(edited_ink, xp)
    width, height = right - left + 1.0, bottom - top + 1.0
    # A digit under half as wide as tall (a 1) is not widened: that would only thicken its stroke.
    factor = xp.exp(xp.where(width < 0.5 * height, xp.minimum(log_width, 0.0), log_width))
    factor = xp.where(reshaped, factor, 1.0)
    longer = xp.maximum(factor * width + xp.abs(xp.tan(slant)) * height, height)
    fit = xp.where(edited, xp.minimum(1.0, DIGIT_BOX / longer), 1.0)
    m00, m01, m10, m11 = affine.inverse_entries(xp.zeros_like(slant), fit * factor, fit, slant, xp)
    style_inverse = xp.stack([xp.stack([m00, m01], axis=-1), xp.stack([m10, m11], axis=-1)], axis=1)
    combined = xp.matmul(style_inverse, inverse)
    centre = _field_centre(original, xp)
    # Forward: p_out = F (p_in - centre) + centre + t, F the inverse of `combined`.
    moved = _matvec(_inverse_2x2(combined, xp), centre_of_mass(edited_ink, xp) - centre, xp)
    recentred = translation + (centre_of_mass(original, xp) - centre) - moved
    return combined, xp.where(edited[:, None], recentred, translation)
