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

from digitnet.core.ctc import decode, greedy

if TYPE_CHECKING:
    import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    # A Keras loss: its name, or a function of (targets, outputs).
    loss: str | Callable
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


def ctc_loss(labels, logits):
    """CTC loss of each line: `labels` [batch, slots] (core/ctc.py's encode: each place's class, then
    the blank 0) against `logits` [batch, steps, classes] (the blank first), every step read."""
    from keras import ops

    labels = ops.cast(labels, "int32")
    lengths = ops.sum(ops.cast(labels > 0, "int32"), axis=1)
    steps = ops.full((ops.shape(logits)[0],), ops.shape(logits)[1], dtype="int32")
    return ops.ctc_loss(labels, logits, lengths, steps, mask_index=0)


def _whole_lines(logits: np.ndarray, labels: np.ndarray) -> float:
    """The share of lines whose best-path reading (core/ctc.py's greedy) is their whole number."""
    return float(np.mean([greedy(row) == decode(label) for row, label in zip(logits, labels)]))


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


# Numbers read as a whole line (serving/line.py, core/ctc.py): images [N, 32, 256], labels [N, slots], logits per step.
SEQUENCE = Task(
    name="sequence",
    loss=ctc_loss,
    metrics=(),
    make_targets=lambda images, labels: (images, labels),
    headline=lambda metrics: f"test CTC loss {metrics['loss']:.4f}",
    serve=lambda model, images: {"logits": model(images, training=False)},
    primary_output="logits",
    score=lambda logits, images, labels: {"whole_lines": _whole_lines(logits, labels)},
)


PRIMARY_OUTPUTS = (CLASSIFICATION.primary_output, RECONSTRUCTION.primary_output, SEQUENCE.primary_output)
