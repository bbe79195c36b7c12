"""The affine distortion of an --augment preset, written once for any array library.

A distortion comes from six uniform draws in [-1, 1] per image: rotation, x
scale, y scale, shear, x shift, y shift. The tf.data pipeline (augment.py, with
TensorFlow) and the RandomAffine layer (models/layers.py, with keras.ops, on any
Keras backend) both turn draws into matrices here, so the two distort alike.

Coordinates are pixels with x to the right and y downwards; the image centre is
the origin of rotation, scaling and shear. In these coordinates
R(t) = [[cos t, sin t], [-sin t, cos t]] turns counter-clockwise on screen and
Shear(k) = [[1, tan k], [0, 1]]; the forward transform is R Shear S.
"""
from __future__ import annotations

import math

import numpy as np

from digitnet.data.presets import Augmentation


def inverse_entries(rotation, scale_x, scale_y, shear, xp) -> tuple:
    """(m00, m01, m10, m11) of the inverse S^-1 Shear^-1 R^-1, written out so that no
    matrix is inverted numerically; `xp` is a namespace with cos, sin and tan
    (tensorflow or keras.ops), the arguments [batch] arrays of it."""
    cos, sin, slant = xp.cos(rotation), xp.sin(rotation), xp.tan(shear)
    return (cos - slant * sin) / scale_x, (-sin - slant * cos) / scale_x, sin / scale_y, cos / scale_y


def from_draws(draws, augmentation: Augmentation, size, xp) -> tuple[tuple, object]:
    """((m00, m01, m10, m11), shift) of each image's distortion from its draws [batch, 6]:
    the inverse matrix, and the forward shift [batch, 2] (x, y) in pixels."""
    height, width = (int(d) for d in size)
    rotation = draws[:, 0] * math.radians(augmentation.rotation_degrees)
    scale_x, scale_y = 1.0 + draws[:, 1] * augmentation.zoom, 1.0 + draws[:, 2] * augmentation.zoom
    shear = draws[:, 3] * math.radians(augmentation.shear_degrees)
    # float32 products, as the draws are float32, so every library computes the same shift.
    shift = draws[:, 4:6] * (np.float32(augmentation.shift) * np.array([width, height], np.float32))
    return inverse_entries(rotation, scale_x, scale_y, shear, xp), shift
