"""The SavedModel that TF Serving loads: uint8 images in, probabilities and classes out."""
from __future__ import annotations

import json
import os
import shutil
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


# The largest variables file a SavedModel is written with: a committee's weights
# are split into several `variables.data-*` files of at most this size, so
# that each stays a small file for git and for whatever copies the model.
# TF Serving, saved_model_cli and tf.saved_model.load read the shards as one.
MAX_SHARD_BYTES = 16 * 2**20


def write_archive(model: keras.Model, path: Path, endpoints: dict, max_shard_bytes: int = MAX_SHARD_BYTES) -> None:
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, signature) in endpoints.items():
        archive.add_endpoint(name=name, fn=fn, input_signature=signature)
    sharding = tf.train.experimental.MaxShardSizePolicy(max_shard_size=max_shard_bytes)
    archive.write_out(str(path), options=tf.saved_model.SaveOptions(experimental_sharding_callback=sharding),
                      verbose=False)


def reshard_variables(folder: str | os.PathLike, max_shard_bytes: int = MAX_SHARD_BYTES) -> int:
    """Rewrites the variables of the SavedModel in `folder` in files of at most `max_shard_bytes` (a variable
    larger than that keeps a file of its own) and returns how many files they take. The graph
    (saved_model.pb) is not touched and every variable is checked to be bit for bit what it was before the
    new files replace the old ones, so the model answers exactly as before; its judge fingerprint
    (judge.fingerprint reads variables.index) changes. Everything is written and checked in a staged copy
    first; the old variables are put back if the swap fails or is interrupted."""
    folder = Path(folder)
    if not (folder / "saved_model.pb").is_file() or not (folder / "variables" / "variables.index").is_file():
        raise ConfigError(f"expected a SavedModel folder (saved_model.pb and variables/), received {folder}")
    reader = tf.train.load_checkpoint(str(folder / "variables" / "variables"))
    dtypes, shapes = reader.get_variable_to_dtype_map(), reader.get_variable_to_shape_map()
    groups, size = [[]], 0
    for name in sorted(dtypes):
        value = reader.get_tensor(name)
        nbytes = sum(len(v) for v in np.ravel(value)) if dtypes[name] == tf.string else np.asarray(value).nbytes
        if groups[-1] and size + nbytes > max_shard_bytes:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += nbytes
    def kept(failure) -> str:
        return f"{folder} is left as it was; {failure.advice} and reshard again"

    with staging_folder(folder.parent, kept) as staging:
        model = staging / "model"  # the SavedModel as it will be: the same graph, the new variables
        (model / "variables").mkdir(parents=True)
        shutil.copyfile(folder / "saved_model.pb", model / "saved_model.pb")
        parts = [str(staging / f"part-{i:05d}-of-{len(groups):05d}") for i in range(len(groups))]
        for part, names in zip(parts, groups):
            tf.raw_ops.SaveV2(prefix=part, tensor_names=names, shape_and_slices=[""] * len(names),
                              tensors=[tf.constant(reader.get_tensor(name), dtypes[name]) for name in names])
        tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=parts, destination_prefix=str(model / "variables" / "variables"),
                                      delete_old_dirs=False)
        written = tf.train.load_checkpoint(str(model / "variables" / "variables"))
        for name in dtypes:
            before, after = np.asarray(reader.get_tensor(name)), np.asarray(written.get_tensor(name))
            if before.dtype != after.dtype or before.shape != after.shape or before.tobytes() != after.tobytes():
                raise ConfigError(f"the resharded variable {name} of {folder} differs from the original; "
                                  f"{folder} is left as it was")
        if (folder / "fingerprint.pb").is_file():
            _write_fingerprint(folder / "fingerprint.pb", model)
        os.rename(folder / "variables", staging / "old")
        try:
            os.rename(model / "variables", folder / "variables")
            if (model / "fingerprint.pb").is_file():
                os.replace(model / "fingerprint.pb", folder / "fingerprint.pb")
        except BaseException:
            if (folder / "variables").exists():
                os.rename(folder / "variables", model / "variables")
            os.rename(staging / "old", folder / "variables")
            raise
    return len(groups)


def _write_fingerprint(published: Path, model: Path) -> None:
    """model/fingerprint.pb: TensorFlow's hashes of the staged SavedModel, with the uuid of the published
    fingerprint.pb kept: the file TensorFlow would write for these files."""
    from tensorflow.core.protobuf import fingerprint_pb2
    from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

    old, new = fingerprint_pb2.FingerprintDef(), fingerprint_pb2.FingerprintDef()
    old.ParseFromString(published.read_bytes())
    new.ParseFromString(fingerprinting.CreateFingerprintDef(str(model)))
    new.uuid = old.uuid
    (model / "fingerprint.pb").write_bytes(new.SerializeToString())


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
