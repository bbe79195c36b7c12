"""The image contract that every model, feed, exporter and runtime shares.

A digit is a uint8 array [28, 28], ink bright on black (MNIST's polarity).
A model reads float32 [batch, 28, 28, 1] in [0, 1]: `to_model_input` is the
one conversion, for NumPy arrays and TensorFlow tensors alike, so training,
export and prediction read the same numbers.
"""
from __future__ import annotations

import numpy as np

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
# Mean and standard deviation of the 60,000 MNIST training images' pixels in [0, 1].
MNIST_PIXEL_MEAN, MNIST_PIXEL_STD = 0.1307, 0.3081
# Ink widths in pixels that a model's input may normalise digits to (layers.DigitWidth, --digit-width).
DIGIT_WIDTHS = range(4, 29)
# Images per call when a whole set is evaluated or predicted: large enough to keep
# the cores busy, small enough for any model's activations to fit in memory.
EVAL_BATCH = 1000


def to_model_input(images):
    """uint8 [..., 28, 28] -> float32 [..., 28, 28, 1] in [0, 1]; a TensorFlow tensor stays one."""
    if isinstance(images, np.ndarray) or type(images).__module__.split(".")[0] != "tensorflow":
        return (np.asarray(images).astype(np.float32) / 255.0)[..., None]
    import tensorflow as tf  # only reached with a TensorFlow tensor, so TensorFlow is already loaded

    return tf.expand_dims(tf.cast(images, tf.float32) / 255.0, axis=-1)
