"""TFLite files for phones and browsers: float32, dynamic-range and int8, batch 1.

`tflite_bytes` converts and returns the file's bytes, nothing else; `export_tflite`
writes the variants as one published version.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from digitnet.core.errors import ConfigError
from digitnet.core.images import to_model_input
from digitnet.models.registry import describe_model
from digitnet.serving.model_card import write_model_card
from digitnet.serving.publish import publish_version, staging_folder
from digitnet.serving.saved_model import write_archive

TFLITE_VARIANTS = ("float32", "dynamic_range", "int8")
REPRESENTATIVE_EXAMPLES = 500


def _representative_dataset(images: np.ndarray):
    def generate():
        for image in images[:REPRESENTATIVE_EXAMPLES]:
            yield [to_model_input(image[None])]

    return generate


def tflite_bytes(model: keras.Model, variant: str, representative_images: np.ndarray | None = None,
                 task=None) -> bytes:
    """One TFLite variant of `model`: batch fixed at 1, as LiteRT.js requires.

    The graph takes float32 [1, 28, 28, 1] in [0, 1] (uint8 [1, 28, 28, 1]
    holding raw pixels for int8, whose input scale is 1/255), or the model's
    own input shape, and returns the task's first output (probabilities,
    reconstructions, or a line reader's logits). `task`: a models.tasks.Task
    (default: the one describe_model finds, for digit models)."""
    if variant not in TFLITE_VARIANTS:
        raise ConfigError(f"unknown TFLite variant {variant!r}; choose from {', '.join(TFLITE_VARIANTS)}")
    task = task or describe_model(model)[0]
    first_output = lambda images: task.serve(model, images)[task.primary_output]  # noqa: E731
    with tempfile.TemporaryDirectory() as folder:
        # TFLiteConverter.from_keras_model is broken on Keras 3: go through a SavedModel.
        write_archive(model, Path(folder), {
            "serving_default": (first_output, [tf.TensorSpec([1, *model.input_shape[1:]], tf.float32, name="images")])})
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if variant != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "int8":
            if representative_images is None:
                raise ConfigError("the int8 variant needs representative training images")
            converter.representative_dataset = _representative_dataset(representative_images)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            # uint8, not int8, at the edges: LiteRT.js rejects int8 tensors.
            converter.inference_input_type = tf.uint8
            converter.inference_output_type = tf.uint8
        return converter.convert()


def export_tflite(model: keras.Model, base_dir: str | os.PathLike, representative_images: np.ndarray,
                  variants: Iterable[str] = TFLITE_VARIANTS,
                  describe: Callable[[dict[str, Path]], dict] | None = None) -> dict[str, Path]:
    """Writes `<base_dir>/<next version>/<name>_<variant>.tflite`; returns variant -> path."""
    return export_tflite_with_card(model, base_dir, representative_images, variants, describe)[0]


def export_tflite_with_card(model: keras.Model, base_dir: str | os.PathLike, representative_images: np.ndarray,
                   variants: Iterable[str], describe: Callable[[dict[str, Path]], dict] | None
                   ) -> tuple[dict[str, Path], dict | None]:
    """export_tflite, also returning the card that describe() gave (None without describe)."""
    base = Path(base_dir)
    with staging_folder(base) as staging:
        folder = staging / "model"
        folder.mkdir()
        names = {}
        for variant in variants:
            names[variant] = f"{model.name}_{variant}.tflite"
            (folder / names[variant]).write_bytes(tflite_bytes(model, variant, representative_images))
        card = None
        if describe is not None:
            card = describe({variant: folder / name for variant, name in names.items()})
            write_model_card(folder, card)
        version = publish_version(folder, base)
    return {variant: version / name for variant, name in names.items()}, card
