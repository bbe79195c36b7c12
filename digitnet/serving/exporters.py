"""The export library: a trained .keras model to a checked SavedModel and TFLite files, each with its card.

`python -m digitnet.export` is the thin command over `export_model`; the formats
themselves live in saved_model.py and tflite.py, their checks in checks.py, the
card in model_card.py and the versioned folders in publish.py.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from digitnet.core.errors import ConfigError
from digitnet.core.images import EVAL_BATCH, to_model_input
from digitnet.models.registry import describe_model
from digitnet.serving.checks import check_saved_model, check_tflite
from digitnet.serving.model_card import build_model_card, with_checks
from digitnet.serving.runtimes import load_keras_model
from digitnet.serving.saved_model import export_saved_model_with_card
from digitnet.serving.tflite import TFLITE_VARIANTS, export_tflite_with_card
from digitnet.training.config import EXPORT_FORMATS as FORMATS


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
        written["saved_model"], card = export_saved_model_with_card(
            model, Path(output_dir) / name,
            lambda path, card=card: with_checks(card, check_saved_model(path, task, data, reference)))
        log(f"saved_model: {card['test_metrics']['saved_model']}")
        log(f"SavedModel written to {written['saved_model']}")
    if "tflite" in formats:
        written["tflite"], card = export_tflite_with_card(
            model, Path(output_dir) / "tflite" / name, data.train_images, TFLITE_VARIANTS,
            lambda paths, card=card: with_checks(card, check_tflite(paths, task, data, reference)))
        for variant, path in written["tflite"].items():
            log(f"tflite {variant}: {card['test_metrics'][f'tflite_{variant}']}, {path.stat().st_size} bytes")
        log(f"TFLite files written to {next(iter(written['tflite'].values())).parent}")
    return {"card": card, **written}
