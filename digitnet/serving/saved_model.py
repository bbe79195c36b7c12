"""The SavedModel that TF Serving loads: uint8 images in, probabilities and classes out."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from digitnet.core.errors import ConfigError
from digitnet.core.images import to_model_input
from digitnet.models.registry import describe_model
from digitnet.serving.model_card import write_model_card
from digitnet.serving.publish import publish_version, staging_folder


def write_archive(model: keras.Model, path: Path, endpoints: dict) -> None:
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, signature) in endpoints.items():
        archive.add_endpoint(name=name, fn=fn, input_signature=signature)
    archive.write_out(str(path), verbose=False)


def serving_endpoints(model: keras.Model, batch: int | None = None) -> dict:
    """`serving_default` takes uint8 images [batch, 28, 28] as clients send them;
    `serving_float` takes float32 [batch, 28, 28, 1] in [0, 1]."""
    serve = describe_model(model)[0].serve
    # A signature does not check shapes when called; without ensure_shape a
    # wrong image size fails deep inside the model ("Input to reshape is a
    # tensor with 480 values...") instead of naming the expected shape.
    return {
        "serving_default": (
            lambda images: serve(model, to_model_input(tf.ensure_shape(images, [batch, 28, 28]))),
            [tf.TensorSpec([batch, 28, 28], tf.uint8, name="images")],
        ),
        "serving_float": (
            lambda images: serve(model, tf.ensure_shape(images, [batch, 28, 28, 1])),
            [tf.TensorSpec([batch, 28, 28, 1], tf.float32, name="images")],
        ),
    }


def export_saved_model(model: keras.Model, base_dir: str | os.PathLike,
                       describe: Callable[[Path], dict] | None = None) -> Path:
    """Writes `<base_dir>/<next version>/` for TF Serving and returns that folder.

    `describe(staged_path)` may check the staged SavedModel and returns the
    model card written beside it before the version is published."""
    return export_saved_model_with_card(model, base_dir, describe)[0]


def export_saved_model_with_card(model: keras.Model, base_dir: str | os.PathLike,
                        describe: Callable[[Path], dict] | None) -> tuple[Path, dict | None]:
    """export_saved_model, also returning the card that describe() gave (None without describe)."""
    base = Path(base_dir)
    with staging_folder(base) as staging:
        write_archive(model, staging / "model", serving_endpoints(model))
        card = None
        if describe is not None:
            card = describe(staging / "model")
            write_model_card(staging / "model", card)
        return publish_version(staging / "model", base), card


def read_card(folder: str | os.PathLike) -> dict:
    """The model card beside a SavedModel exported here (a ConfigError naming the folder if there is none)."""
    card = Path(folder) / "model_card.json"
    if not (Path(folder) / "saved_model.pb").exists() or not card.exists():
        raise ConfigError(f"expected a SavedModel folder exported by digitnet (saved_model.pb and model_card.json), "
                          f"received {folder}")
    return json.loads(card.read_text())


def restore_variables(model: keras.Model, folder: str | os.PathLike, images: np.ndarray,
                      tolerance: float = 1e-5) -> float:
    """Gives `model` the variables of the SavedModel in `folder`, an export of a model built the same way
    (variables in the same order, of the same shapes), and checks that both give the same probabilities on
    `images` (float32 [n, 28, 28, 1]); returns their largest difference."""
    loaded = tf.saved_model.load(str(folder))
    saved, rebuilt = list(loaded.variables), list(model.variables)
    shapes = [tuple(v.shape) for v in saved], [tuple(v.shape) for v in rebuilt]
    if shapes[0] != shapes[1]:
        raise ConfigError(f"{folder} holds {len(saved)} variables that do not match the {len(rebuilt)} of the "
                          f"model rebuilt from its card: not the model the card describes")
    for variable, value in zip(rebuilt, saved):
        variable.assign(value.numpy())
    if "serving_float" not in loaded.signatures:
        raise ConfigError(f"{folder} has no serving_float signature to check the rebuilt model against")
    served = loaded.signatures["serving_float"](images=tf.constant(images, tf.float32))["probabilities"].numpy()
    rebuilt_probabilities = np.asarray(model(images, training=False))  # one batch, as the signature ran, no XLA
    difference = float(np.max(np.abs(served - rebuilt_probabilities)))
    if difference > tolerance:
        raise ConfigError(f"the model rebuilt from {folder} differs from it by up to {difference:.3g} in "
                          f"probability (tolerance {tolerance:g}): not the model the card describes")
    return difference
