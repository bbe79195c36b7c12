"""Custom Keras layers of digitnet's models, registered so that a saved .keras loads.

Importing this module registers them; every place that loads a .keras file
(runtimes.load_keras_model, the committee, training) imports it first. The
layers use keras.ops only: they run on every Keras backend, and their
SavedModel and TFLite exports need no digitnet.
"""
from __future__ import annotations

import keras
from keras import ops

from digitnet.errors import ConfigError
from digitnet.registry import DIGIT_WIDTHS


@keras.saving.register_keras_serializable(package="digitnet")
class DigitWidth(keras.layers.Layer):
    """Stretches or squeezes each digit horizontally so that its ink spans `width`
    pixels, centred in the image; the rows are left as they are.

    The ink is every column whose brightest pixel exceeds `threshold` (images
    in [0, 1]); an image without ink passes unchanged. Resampling is linear:
    each output pixel is a weighted mean of its two nearest input pixels, so
    the pixel range is kept, and nothing is divided at run time (an int8
    TFLite division by a quantized zero fails). Ciresan et al. (2011) train
    committee members on digits normalised to widths 10-20: each member sees
    the digits differently.
    """

    def __init__(self, width: int, threshold: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(width, int) or isinstance(width, bool) or width not in DIGIT_WIDTHS:
            raise ConfigError(f"width must be an integer from {DIGIT_WIDTHS.start} to {DIGIT_WIDTHS.stop - 1} "
                              f"pixels, received {width!r}")
        if not isinstance(threshold, (int, float)) or not 0 <= threshold < 1:
            raise ConfigError(f"threshold must be a number in [0, 1), received {threshold!r}")
        self.width, self.threshold = width, float(threshold)

    def call(self, images):
        size = images.shape[2]
        positions = ops.arange(size, dtype=images.dtype)
        ink = ops.max(images, axis=(1, 3)) > self.threshold                      # [batch, columns]
        has_ink = ops.any(ink, axis=1)
        first = ops.min(ops.where(ink, positions, size), axis=1)
        last = ops.max(ops.where(ink, positions, -1), axis=1)
        middle = (size - 1) / 2
        span = ops.where(has_ink, last - first + 1, self.width)
        centre = ops.where(has_ink, (first + last) / 2, middle)
        step = span / self.width                                                  # input pixels per output pixel
        source = centre[:, None] + (positions[None, :] - middle) * step[:, None]  # [batch, output column]
        # Linear interpolation: each output pixel mixes its two nearest input pixels.
        weights = ops.relu(1 - ops.abs(positions[None, None, :] - source[:, :, None]))
        return ops.einsum("bric,boi->broc", images, weights)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "width": self.width, "threshold": self.threshold}
