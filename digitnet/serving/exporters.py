"""Exporters: a SavedModel that TF Serving loads, and TFLite files for phones.

Library functions return the paths they wrote; `python -m digitnet.export`
is the thin command over them. Every folder is written under a temporary
name and renamed, so a server watching `saved_models/` never sees half a model.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from digitnet.core.errors import ConfigError
from digitnet.core.files import write_json, write_text
from digitnet.core.images import EVAL_BATCH, to_model_input
from digitnet.models.registry import describe_model
from digitnet.serving.runtimes import SavedModelPredictor, TFLitePredictor, load_keras_model
from digitnet.training.config import EXPORT_FORMATS as FORMATS

TFLITE_VARIANTS = ("float32", "dynamic_range", "int8")
REPRESENTATIVE_EXAMPLES = 500


def next_version(base: Path) -> int:
    """One more than the highest number naming anything under `base` (a file named '3' takes 3 as well)."""
    versions = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.exists() else []
    return max(versions, default=0) + 1


def publish_version(staging: Path, base: Path) -> Path:
    """Renames a finished `staging` folder to the next free version under `base`.

    rename() refuses an existing non-empty target, so two exporters racing
    for one number never overwrite each other: the loser takes the next."""
    while True:
        target = base / str(next_version(base))
        try:
            os.rename(staging, target)
            return target
        except OSError:
            if not target.exists():
                raise
            # Taken meanwhile (by a racing exporter): next_version now counts it.


@contextlib.contextmanager
def staging_folder(base: Path):
    """A temporary folder beside the versions (hidden, so not a servable version)."""
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=base, prefix=".staging-"))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_archive(model: keras.Model, path: Path, endpoints: dict) -> None:
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
    return _export_saved_model(model, base_dir, describe)[0]


def _export_saved_model(model: keras.Model, base_dir: str | os.PathLike,
                        describe: Callable[[Path], dict] | None) -> tuple[Path, dict | None]:
    """export_saved_model, also returning the card that describe() gave (None without describe)."""
    base = Path(base_dir)
    with staging_folder(base) as staging:
        _write_archive(model, staging / "model", serving_endpoints(model))
        card = None
        if describe is not None:
            card = describe(staging / "model")
            write_model_card(staging / "model", card)
        return publish_version(staging / "model", base), card


def _representative_dataset(images: np.ndarray):
    def generate():
        for image in images[:REPRESENTATIVE_EXAMPLES]:
            yield [image[None, :, :, None].astype(np.float32) / 255.0]

    return generate


def tflite_bytes(model: keras.Model, variant: str, representative_images: np.ndarray | None = None) -> bytes:
    """One TFLite variant of `model`: batch fixed at 1, as LiteRT.js requires.

    The graph takes float32 [1, 28, 28, 1] in [0, 1] (uint8 [1, 28, 28, 1]
    holding raw pixels for int8, whose input scale is 1/255) and returns the
    task's first output (probabilities, or reconstructions)."""
    if variant not in TFLITE_VARIANTS:
        raise ConfigError(f"unknown TFLite variant {variant!r}; choose from {', '.join(TFLITE_VARIANTS)}")
    task = describe_model(model)[0]
    first_output = lambda images: task.serve(model, images)[task.primary_output]  # noqa: E731
    with tempfile.TemporaryDirectory() as folder:
        # TFLiteConverter.from_keras_model is broken on Keras 3: go through a SavedModel.
        _write_archive(model, Path(folder), {
            "serving_default": (first_output, [tf.TensorSpec([1, 28, 28, 1], tf.float32, name="images")])})
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
    return _export_tflite(model, base_dir, representative_images, variants, describe)[0]


def _export_tflite(model: keras.Model, base_dir: str | os.PathLike, representative_images: np.ndarray,
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


def write_model_card(folder: Path, card: dict) -> tuple[Path, Path]:
    lines = [f"# Model card: {card.get('name', '?')}", ""]
    for key, value in card.items():
        if isinstance(value, dict):
            lines.append(f"## {key.replace('_', ' ').capitalize()}")
            lines.extend(f"- **{k}**: {json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in value.items())
            lines.append("")
        else:
            lines.append(f"- **{key}**: {value}")
    return write_json(folder / "model_card.json", card), write_text(folder / "model_card.md", "\n".join(lines) + "\n")


def _agreement(reference: np.ndarray, outputs: np.ndarray) -> dict:
    """How closely a runtime's outputs follow the Keras model's."""
    agreement = {"max_abs_difference": float(np.max(np.abs(reference - outputs)))}
    if reference.ndim == 2:
        agreement["argmax_agreement"] = float(np.mean(np.argmax(reference, 1) == np.argmax(outputs, 1)))
    return agreement


INPUT_CONTRACT = {
    "saved_model serving_default": "images: uint8 [batch, 28, 28], white digit on black (MNIST polarity), "
                                   "0-255; normalised inside the graph",
    "saved_model serving_float": "images: float32 [batch, 28, 28, 1] in [0, 1]",
    "tflite float32 / dynamic_range": "float32 [1, 28, 28, 1] in [0, 1]",
    "tflite int8": "uint8 [1, 28, 28, 1] raw pixels (scale 1/255); output uint8, dequantize with the "
                   "output's scale and zero point",
    "outputs": "classifiers: probabilities [batch, 10], classes [batch]; "
               "autoencoders: reconstructions [batch, 28, 28, 1], codes [batch, 6]",
}


def build_model_card(model: keras.Model, model_path: Path, name: str, data, reference: np.ndarray) -> dict:
    """The card of `model` before any export: what it is, how it was trained, its Keras test metrics.

    `reference` holds the Keras model's outputs on data.test_images; the
    training config comes from the run folder's config.json beside the model, if any."""
    task, summary = describe_model(model)
    run_config = Path(model_path).parent / "config.json"
    run = json.loads(run_config.read_text()) if run_config.exists() else {"config": {}}
    committee = {"members": run["members"], "member_arch": run["config"]["arch"]} if "members" in run else {}
    return {
        "name": name,
        "model": {"arch": model.name, "summary": summary, "task": task.name,
                  "parameters": int(model.count_params()), **committee},
        "training": run["config"],
        "data": {"source": data.source, "test_examples": int(len(data.test_images)),
                 "train_examples": int(len(data.train_images))},
        "test_metrics": {"keras": task.score(reference, data.test_images, data.test_labels)},
        "input_contract": dict(INPUT_CONTRACT),
        "files": {},
    }


def check_saved_model(path: Path, task, data, reference: np.ndarray) -> dict:
    """The staged SavedModel run on the whole test set: {"test_metrics": {...}, "files": {...}} for the card."""
    outputs = SavedModelPredictor(path)(data.test_images)
    return {
        "test_metrics": {"saved_model": {**task.score(outputs, data.test_images, data.test_labels),
                                         **_agreement(reference, outputs)}},
        "files": {"saved_model_bytes": sum(f.stat().st_size for f in path.rglob("*") if f.is_file())},
    }


def check_tflite(paths: dict[str, Path], task, data, reference: np.ndarray) -> dict:
    """Each staged TFLite file run on the whole test set: {"test_metrics": {...}, "files": {...},
    "tflite_io": {variant: its input and output dtype, scale and zero point}} for the card
    (what a runtime without tensor details, such as LiteRT.js, needs to quantize and dequantize)."""
    checks: dict = {"test_metrics": {}, "files": {}, "tflite_io": {}}
    for variant, path in paths.items():
        predictor = TFLitePredictor(path)
        outputs = predictor(data.test_images)
        checks["test_metrics"][f"tflite_{variant}"] = {
            **task.score(outputs, data.test_images, data.test_labels), **_agreement(reference, outputs),
            "median_latency_ms": round(1000 * float(np.median(predictor.latencies)), 4)}
        checks["files"][f"tflite_{variant}_bytes"] = path.stat().st_size
        checks["tflite_io"][variant] = predictor.io_spec()
    return checks


def with_checks(card: dict, checks: dict) -> dict:
    """A copy of `card` with each section of `checks` (test metrics, file sizes, ...) added after its own."""
    return {**card, **{section: {**card.get(section, {}), **values} for section, values in checks.items()}}


def _check_formats(formats: Iterable[str]) -> list[str]:
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"--formats must name some of {', '.join(FORMATS)}, received {','.join(formats)!r}")
    return formats


def export_model(model_path: str | os.PathLike, formats: Iterable[str], output_dir: str | os.PathLike,
                 data, name: str | None = None, log=print) -> dict:
    """Exports a trained .keras model in `formats`, each checked on the whole test set.

    Each format's card holds the checks of the formats exported before it.
    Returns {"card": card, "saved_model": path, "tflite": {variant: path}}."""
    formats = _check_formats(formats)
    model_path = Path(model_path)
    model = load_keras_model(model_path)
    task, name = describe_model(model)[0], name or model.name
    reference = model.predict(to_model_input(data.test_images), batch_size=EVAL_BATCH, verbose=0)
    card = build_model_card(model, model_path, name, data, reference)
    written: dict = {}
    if "saved_model" in formats:
        written["saved_model"], card = _export_saved_model(
            model, Path(output_dir) / name,
            lambda path, card=card: with_checks(card, check_saved_model(path, task, data, reference)))
        log(f"saved_model: {card['test_metrics']['saved_model']}")
        log(f"SavedModel written to {written['saved_model']}")
    if "tflite" in formats:
        written["tflite"], card = _export_tflite(
            model, Path(output_dir) / "tflite" / name, data.train_images, TFLITE_VARIANTS,
            lambda paths, card=card: with_checks(card, check_tflite(paths, task, data, reference)))
        for variant, path in written["tflite"].items():
            log(f"tflite {variant}: {card['test_metrics'][f'tflite_{variant}']}, {path.stat().st_size} bytes")
        log(f"TFLite files written to {next(iter(written['tflite'].values())).parent}")
    return {"card": card, **written}
