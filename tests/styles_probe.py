"""The style edits as layers.RandomAffine draws them (keras.ops), on the Keras backend of this process:
tests/test_styles.py calls outputs() with Keras on TensorFlow and runs this file under Keras on JAX
without TensorFlow, then measures both alike.

    KERAS_BACKEND=jax python tests/styles_probe.py INPUTS.npz OUTPUTS.npz

INPUTS.npz: uint8 `images` [n, 28, 28], their `labels`, and the draws `affine_draws` [n, 6] in
[-1, 1] and `style_draws` [n, styles.DRAWS] in [0, 1) that the pipeline also turns into images.
Imports no TensorFlow.
"""
import sys

import keras
import numpy as np

from digitnet.data.presets import Augmentation, StyleCoverage, get_augmentation
from digitnet.models import layers

# Only the stroke edit of each digit, every time: no pen, no slant or width, no affine distortion.
STROKES_ONLY = StyleCoverage(stroke=1.0, bare_one=0.0, foot=0.0, pen=0.0, shape=0.0)


def outputs(inputs: dict) -> dict:
    """float32 arrays [n, 28, 28, 1] of the inputs' images: `same_draws` (the inputs' draws turned into
    images by the layer's maths), `strokes` (a layer drawing stroke edits only, seed 4), `first`,
    `second` (two batches of a layer of the styles preset, seed 5), `twin` (a second layer, seed 5),
    `unlabelled` (seed 5 without the labels) and `inference` (the first layer, not training)."""
    images = keras.ops.convert_to_tensor(inputs["images"].astype(np.float32)[..., None] / 255.0)
    labels = keras.ops.convert_to_tensor(inputs["labels"].astype(np.int32))
    draws = (keras.ops.convert_to_tensor(inputs["affine_draws"]), keras.ops.convert_to_tensor(inputs["style_draws"]))
    layer = layers.RandomAffine("styles", seed=5)
    found = {
        "same_draws": layers.resample(*layers.styled_transforms(images, labels, *draws, get_augmentation("styles"))),
        "strokes": layers.RandomAffine(Augmentation(styles=STROKES_ONLY), seed=4)(images, labels, training=True),
        "first": layer(images, labels, training=True),
        "second": layer(images, labels, training=True),
        "twin": layers.RandomAffine("styles", seed=5)(images, labels, training=True),
        "unlabelled": layers.RandomAffine("styles", seed=5)(images, training=True),
        "inference": layer(images, labels),
    }
    return {name: keras.ops.convert_to_numpy(value) for name, value in found.items()}


if __name__ == "__main__":
    np.savez(sys.argv[2], backend=keras.backend.backend(), **outputs(dict(np.load(sys.argv[1]))))
