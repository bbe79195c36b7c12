"""The "not a digit" decision and the calibrated confidence of a reading.

A classifier answers every 28x28 input with a digit, whatever the ink is.
The judge looks at the same prepared input and its served probabilities and
decides whether to report a digit at all:

- a small CNN, the detector (DETECTOR_LAYERS), gives the probability that the
  ink is not a digit (an eleventh class beside the ten digits); it is trained
  by digitnet's training loop (digitnet/experiments/detector.py) on MNIST
  training digits (clean, as photos and in other styles) against
  digitnet.data.negatives' letters, symbols, scribbles, shapes, crossed-out
  and overlaid digits, and runs here in NumPy, so that a reading needs no
  TensorFlow;
- the classifier's probabilities are calibrated by the temperature fitted for
  that very model file (calibration.py), and a calibrated top probability
  under the model's confidence floor also means "not a digit".

The thresholds, temperatures and detector weights live in one folder
(saved_models/not_a_digit/<version>/: judge.json, detector.npz), chosen on
validation sets only by the rule in reports/not_a_digit.md. Models are told
apart by a fingerprint of their files, so a retrained model with the same name
is not given another model's temperature: an unknown model keeps its
probabilities (temperature 1) and is judged by the detector alone.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from digitnet.core.images import to_model_input
from digitnet.serving.calibration import IDENTITY, Calibration
from digitnet.serving.runtimes import reference_roots

JUDGE_FILE, DETECTOR_FILE = "judge.json", "detector.npz"
# (name, kind, filters or units): 28x28 -> conv 3x3 (valid) + ReLU -> max-pool 2 -> ... -> 11 logits:
# the ten digits and "not a digit" (learning which digit a digit is teaches the net what digits look like).
DETECTOR_LAYERS = (("conv1", "conv", 32), ("pool1", "pool", 2), ("conv2", "conv", 64), ("pool2", "pool", 2),
                   ("dense1", "dense", 64), ("logits", "dense", 11))
NOT_A_DIGIT_CLASS = 10


def fingerprint(model_path: str | os.PathLike) -> str:
    """sha256 (16 hex digits) of a model file, or of a SavedModel's graph and variable index
    (the index holds a checksum of every variable)."""
    path = Path(model_path)
    files = [path / "saved_model.pb", path / "variables" / "variables.index"] if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _conv_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N, H-2, W-2, F]: a valid 3x3 convolution (Keras' Conv2D), then ReLU."""
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # [N, H', W', C, 3, 3]
    n, height, width, channels = windows.shape[:4]
    columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * height * width, 9 * channels)
    out = columns @ kernel.reshape(9 * channels, -1) + bias
    return np.maximum(out, 0).reshape(n, height, width, -1)


def _max_pool(x: np.ndarray, size: int) -> np.ndarray:
    n, height, width, channels = x.shape
    h, w = height // size, width // size
    return x[:, :h * size, :w * size].reshape(n, h, size, w, size, channels).max(axis=(2, 4))


class Detector:
    """The not-a-digit CNN in NumPy: weights {"<layer>/kernel", "<layer>/bias"} (Keras' layouts)."""

    def __init__(self, weights: dict[str, np.ndarray]):
        missing = [f"{name}/{part}" for name, kind, _ in DETECTOR_LAYERS if kind != "pool"
                   for part in ("kernel", "bias") if f"{name}/{part}" not in weights]
        if missing:
            raise ValueError(f"detector weights lack {', '.join(missing)}; they hold {sorted(weights)}")
        self.weights = {key: np.asarray(value, dtype=np.float32) for key, value in weights.items()}

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Detector":
        with np.load(path) as stored:
            return cls({key: stored[key] for key in stored.files})

    def logits(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, 28, 28] (MNIST polarity; [N, 28, W] for a reader of wider fields) -> [N, 11] logits
        (digits 0-9, then "not a digit"; as many as its last layer has)."""
        x = to_model_input(images)
        for name, kind, size in DETECTOR_LAYERS:
            if kind == "pool":
                x = _max_pool(x, size)
                continue
            kernel, bias = self.weights[f"{name}/kernel"], self.weights[f"{name}/bias"]
            if kind == "conv":
                x = _conv_relu(x, kernel, bias)
            else:
                x = x.reshape(len(x), -1) @ kernel + bias
                x = np.maximum(x, 0) if name != DETECTOR_LAYERS[-1][0] else x
        return x

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """[N] probabilities that each input is not a digit."""
        logits = self.logits(images).astype(np.float64)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp[:, NOT_A_DIGIT_CLASS] / exp.sum(axis=1)


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """What the judge knows of one model file: its calibration and its confidence floor."""

    name: str
    calibration: Calibration = IDENTITY
    confidence_floor: float = 0.0

    def to_json(self) -> dict:
        return {"name": self.name, **self.calibration.to_json(), "confidence_floor": self.confidence_floor}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One input's reading: `digit` is None when it is not a digit (`reason` says why);
    `confidence` and `probabilities` are calibrated; `not_a_digit` is the detector's probability."""

    digit: int | None
    confidence: float
    probabilities: np.ndarray
    not_a_digit: float
    reason: str | None = None

    def to_json(self) -> dict:
        return {"digit": self.digit, "confidence": round(self.confidence, 6), "not_a_digit": round(self.not_a_digit, 6),
                "reason": self.reason, "probabilities": [round(float(p), 6) for p in self.probabilities]}


class Judge:
    """Decides, for one model, which inputs are digits and how confident each reading is."""

    def __init__(self, detector: Detector, threshold: float, model: ModelSettings):
        self.detector, self.threshold, self.model = detector, float(threshold), model

    def scores(self, images: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(detector's not-a-digit probabilities [N], calibrated probabilities [N, 10])."""
        return self.detector(images), self.model.calibration(probabilities)

    def refused(self, images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """bool [N]: which inputs are not a digit."""
        detector, calibrated = self.scores(images, probabilities)
        return (detector >= self.threshold) | (calibrated.max(axis=1) < self.model.confidence_floor)

    def judge(self, images: np.ndarray, probabilities: np.ndarray) -> list[Verdict]:
        """One Verdict per input: uint8 images [N, 28, 28] and the model's served probabilities [N, 10]."""
        detector, calibrated = self.scores(images, probabilities)
        verdicts = []
        for score, row in zip(detector, calibrated):
            digit, confidence = int(np.argmax(row)), float(np.max(row))
            reason = None
            if score >= self.threshold:
                reason = f"the ink looks like no digit (not-a-digit score {score:.2f})"
            elif confidence < self.model.confidence_floor:
                reason = (f"no digit is likely (the best, {digit}, has probability {confidence:.2f}, "
                          f"under {self.model.confidence_floor:.2f})")
            verdicts.append(Verdict(None if reason else digit, confidence, row, float(score), reason))
        return verdicts


def default_judge_folder(root: str | os.PathLike | None = None) -> Path | None:
    """<root>/not_a_digit/<highest version> holding judge.json, in the first of
    runtimes.reference_roots(root) that has one, or None."""
    for base in reference_roots(root):
        folder = base / "not_a_digit"
        versions = [p for p in folder.iterdir() if p.name.isdigit() and (p / JUDGE_FILE).is_file()] \
            if folder.is_dir() else []
        if versions:
            return max(versions, key=lambda p: int(p.name))
    return None


def load_judge(model_path: str | os.PathLike | None, folder: str | os.PathLike | None = None) -> Judge:
    """The judge for the model at `model_path`, from `folder` (default: the newest
    saved_models/not_a_digit/<version>/); `model_path` None stands for a model out of reach (a
    served one), judged as an unknown one. ValueError naming the file when it cannot be read."""
    folder = Path(folder) if folder is not None else default_judge_folder()
    if folder is None:
        raise ValueError("no not-a-digit judge: saved_models/not_a_digit/<version>/judge.json is missing "
                         "(benchmarks/not_a_digit.py --select writes one)")
    try:
        record = json.loads((folder / JUDGE_FILE).read_text())
        detector = Detector.load(folder / record["detector"]["file"])
        threshold = float(record["detector"]["threshold"])
        entry = record.get("models", {}).get(fingerprint(model_path)) if model_path is not None else None
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{folder / JUDGE_FILE}: not a readable judge ({type(error).__name__}: {error})") from None
    if entry is None:
        return Judge(detector, threshold, ModelSettings(str(model_path) if model_path is not None else "unknown"))
    return Judge(detector, threshold, ModelSettings(entry["name"], Calibration.from_json(entry),
                                                    float(entry.get("confidence_floor", 0.0))))
