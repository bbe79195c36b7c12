"""What a model is trained to do: its targets, loss, metrics and headline.

The registry (models.py) gives every architecture one of these, so training,
evaluation, export and figures never branch on an architecture's name.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

from digitnet import figures


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    loss: str
    metrics: tuple[str, ...]
    # (images, labels) -> (inputs, targets) inside the tf.data pipeline.
    make_targets: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
    # Turns evaluate()'s dict into the sentence printed last by a run.
    describe: Callable[[dict], str]
    # Names of the SavedModel outputs, in the order of the model's outputs.
    serving_outputs: tuple[str, ...]
    # (model, test inputs, test labels, output folder, title) -> PNG paths written.
    figures: Callable


def _describe_classification(metrics: dict) -> str:
    return f"test accuracy {100 * metrics['accuracy']:.2f} % (test loss {metrics['loss']:.4f})"


def _describe_reconstruction(metrics: dict) -> str:
    return f"test reconstruction loss (per-pixel binary cross-entropy) {metrics['loss']:.4f}"


CLASSIFICATION = Task(
    name="classification",
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    make_targets=lambda images, labels: (images, labels),
    describe=_describe_classification,
    serving_outputs=("probabilities", "classes"),
    figures=figures.classification_figures,
)

RECONSTRUCTION = Task(
    name="reconstruction",
    loss="binary_crossentropy",
    metrics=(),
    make_targets=lambda images, labels: (images, images),
    describe=_describe_reconstruction,
    serving_outputs=("reconstructions", "codes"),
    figures=figures.reconstruction_figures,
)
