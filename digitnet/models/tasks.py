"""What a model is trained to do: its targets, loss, metrics and headline.

The registry (registry.py) gives every architecture one of these, so training,
evaluation and export never branch on an architecture's name. The figures
of each task live with the figures (figures.figures_for). Importing this
module loads neither a plotting library nor TensorFlow (whose Keras imports
matplotlib): TensorFlow loads when a task first serves a model.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    loss: str
    metrics: tuple[str, ...]
    # (images, labels) -> (inputs, targets) inside the tf.data pipeline.
    make_targets: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
    # Turns evaluate()'s dict into the sentence printed last by a run.
    headline: Callable[[dict], str]
    # (model, normalised images) -> the named outputs of the SavedModel signature.
    serve: Callable[[object, tf.Tensor], dict]
    # The output that TFLite files carry and that predictors return.
    primary_output: str
    # (first output of any runtime, uint8 images, labels) -> test metrics.
    score: Callable[[np.ndarray, np.ndarray, np.ndarray], dict]


def _classify(probabilities: tf.Tensor) -> dict:
    import tensorflow as tf

    return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int32)}


def _bce(reconstructions: np.ndarray, images: np.ndarray) -> float:
    targets = images.reshape(reconstructions.shape).astype(np.float64) / 255.0
    p = np.clip(reconstructions.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(np.mean(-(targets * np.log(p) + (1 - targets) * np.log(1 - p))))


def _headline_classification(metrics: dict) -> str:
    return f"test accuracy {100 * metrics['accuracy']:.2f} % (test loss {metrics['loss']:.4f})"


def _headline_reconstruction(metrics: dict) -> str:
    return f"test reconstruction loss (per-pixel binary cross-entropy) {metrics['loss']:.4f}"


CLASSIFICATION = Task(
    name="classification",
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    make_targets=lambda images, labels: (images, labels),
    headline=_headline_classification,
    serve=lambda model, images: _classify(model(images, training=False)),
    primary_output="probabilities",
    score=lambda probabilities, images, labels: {
        "accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels))},
)

RECONSTRUCTION = Task(
    name="reconstruction",
    loss="binary_crossentropy",
    metrics=(),
    make_targets=lambda images, labels: (images, images),
    headline=_headline_reconstruction,
    serve=lambda model, images: {
        "reconstructions": model(images, training=False),
        "codes": model.get_layer("encoder")(images, training=False),
    },
    primary_output="reconstructions",
    score=lambda reconstructions, images, labels: {"reconstruction_bce": _bce(reconstructions, images)},
)


PRIMARY_OUTPUTS = (CLASSIFICATION.primary_output, RECONSTRUCTION.primary_output)
