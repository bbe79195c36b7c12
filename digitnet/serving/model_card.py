"""A model card beside every exported version: what the model is, how it was trained, what it scores."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from digitnet.core.files import write_json, write_text
from digitnet.models.registry import describe_model
from digitnet.training.run_folder import RunFolder


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


def build_model_card(model, model_path: Path, name: str, data, reference: np.ndarray) -> dict:
    """The card of `model` before any export: what it is, how it was trained, its Keras test metrics.

    `reference` holds the Keras model's outputs on data.test_images; the
    training config comes from the run folder's config.json beside the model, if any."""
    task, summary = describe_model(model)
    run_config = RunFolder(Path(model_path).parent).config
    run = json.loads(run_config.read_text()) if run_config.exists() else {"config": {}}
    committee = {"members": run["members"], "member_arch": run["config"]["arch"], "views": run.get("views", 1),
                 "member_runs": _member_runs(run_config.parent)} if "members" in run else {}
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


def _member_runs(folder: Path) -> list[dict]:
    """Each committee member's seed, run folder, augmentation, trainer and test accuracy (and the committee
    it was recovered from, if any), from the committee's metrics.json."""
    metrics = RunFolder(folder).metrics
    members = json.loads(metrics.read_text()).get("members", []) if metrics.exists() else []
    return [{"seed": m["seed"], "folder": m["folder"], "trainer": m.get("trainer", "digitnet.train"),
             "digit_width": m.get("digit_width"), "augment": m.get("augment"), "test_accuracy": m["test"]["accuracy"],
             "training_seconds": m.get("training_seconds"),
             **({"published_in": m["published_in"]} if "published_in" in m else {})} for m in members]


def with_checks(card: dict, checks: dict) -> dict:
    """A copy of `card` with each section of `checks` (test metrics, file sizes, ...) added after its own."""
    return {**card, **{section: {**card.get(section, {}), **values} for section, values in checks.items()}}
