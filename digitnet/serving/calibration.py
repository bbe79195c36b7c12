"""Confidence that means what it says: calibration error, temperature scaling, reliability diagrams.

A model's top probability is its confidence. Over the answers given with
confidence near 0.9, about 90 % should be right; the expected calibration
error (ECE) measures how far off that is: answers are put in BINS equal-width
bins of confidence, and each bin's |accuracy - mean confidence| is weighted by
its share of the answers (Guo et al. 2017, "On Calibration of Modern Neural
Networks", who use 15 bins).

Temperature scaling is their remedy: one number T divides the logits before
the softmax, which leaves every answer (the argmax) as it is and makes the
probabilities softer (T > 1) or sharper (T < 1). digitnet's served models give
probabilities, not logits, and a committee's probabilities are its members'
average; so log(probabilities) stands in for the logits (for one softmax it
differs from them by a constant per row, which the softmax ignores), clipped
at FLOOR because an int8 model's probabilities come in steps of 1/256 and
may be 0. T is fitted by minimising the negative log-likelihood on the fit
sets (digitnet.experiments.reading_sets: the validation split, its photos and
its other styles), never on a held-back set; the served probabilities stay
exactly as they are, the calibration is applied when a reading is reported.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Mapping

import numpy as np

BINS = 15
FLOOR = 1e-4  # probabilities below this count as this much (log(0) has no temperature)
LOG_T_RANGE = (-3.0, 3.0)  # temperatures from e^-3 (sharper) to e^3 (softer)


def _confidences(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) != len(labels) or len(labels) == 0:
        raise ValueError(f"expected probabilities [N, classes] and labels [N] with N > 0; received "
                         f"{list(probabilities.shape)} and {list(labels.shape)}")
    return probabilities.max(axis=1), (probabilities.argmax(axis=1) == labels).astype(np.float64)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict[str, np.ndarray]:
    """Per confidence bin ((k/bins, (k+1)/bins], the first one closed at 0): "count",
    "confidence" (mean top probability) and "accuracy" (fraction right); empty bins hold 0."""
    confidence, correct = _confidences(probabilities, labels)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins).astype(np.float64)
    total = np.maximum(count, 1)
    return {"edges": np.linspace(0, 1, bins + 1), "count": count,
            "confidence": np.bincount(index, weights=confidence, minlength=bins) / total,
            "accuracy": np.bincount(index, weights=correct, minlength=bins) / total}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """sum over bins of (bin's share of the answers) * |bin's accuracy - bin's mean confidence|."""
    table = reliability(probabilities, labels, bins)
    return float(np.sum(table["count"] / table["count"].sum() * np.abs(table["accuracy"] - table["confidence"])))


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), FLOOR, 1.0))


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log(probabilities) / temperature), row by row."""
    logits = log_probabilities(probabilities) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    rows = scaled(probabilities, temperature)
    return float(-np.mean(np.log(np.maximum(rows[np.arange(len(labels)), labels], 1e-300))))


def fit_temperature(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], tolerance: float = 1e-4) -> float:
    """The T that minimises the mean of the sets' negative log-likelihoods (each set weighs
    the same, whatever its size), by golden-section search over log T in LOG_T_RANGE
    (the likelihood is convex in 1/T)."""
    if not sets:
        raise ValueError("fit_temperature needs at least one set of (probabilities, labels)")

    def loss(log_t: float) -> float:
        return float(np.mean([negative_log_likelihood(p, np.asarray(y), np.exp(log_t)) for p, y in sets.values()]))

    golden = (np.sqrt(5) - 1) / 2
    low, high = LOG_T_RANGE
    a, b = high - golden * (high - low), low + golden * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    while high - low > tolerance:
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - golden * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + golden * (high - low)
            loss_b = loss(b)
    return float(np.exp((low + high) / 2))


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it was fitted on."""

    temperature: float
    fitted_on: tuple[str, ...] = ()

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        return scaled(probabilities, self.temperature)

    def to_json(self) -> dict:
        return {"temperature": self.temperature, "fitted_on": list(self.fitted_on)}

    @classmethod
    def from_json(cls, record: Mapping) -> "Calibration":
        temperature = record.get("temperature") if isinstance(record, Mapping) else None
        if not isinstance(temperature, (int, float)) or not 0 < temperature < float("inf"):
            raise ValueError(f"a calibration needs a positive finite temperature; received {record!r}")
        return cls(float(temperature), tuple(record.get("fitted_on", ())))


IDENTITY = Calibration(1.0, ())


def fit(sets: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Calibration:
    """Temperature scaling fitted on the named sets."""
    return Calibration(fit_temperature(sets), tuple(sets))


def plot_reliability(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], path, title: str,
                     calibration: Calibration | None = None) -> str:
    """Reliability diagram (accuracy against confidence per bin, the diagonal being perfect) of each
    named set, before and, when `calibration` is given, after it; each legend entry gives the ECE."""
    from digitnet.core import figures  # matplotlib: only for the figure

    columns = 2 if calibration is not None else 1
    figure, axes = figures.plt.subplots(1, columns, figsize=(5.2 * columns, 5), squeeze=False)
    stages = [("as served", None)] + ([(f"temperature {calibration.temperature:.3f}", calibration)]
                                      if calibration is not None else [])
    for axis, (stage, transform) in zip(axes[0], stages):
        axis.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--")
        for name, (probabilities, labels) in sets.items():
            probabilities = transform(probabilities) if transform else probabilities
            table = reliability(probabilities, labels)
            used = table["count"] > 0
            error = expected_calibration_error(probabilities, labels)
            axis.plot(table["confidence"][used], table["accuracy"][used], marker="o", markersize=3,
                      label=f"{name} (ECE {100 * error:.2f} %)")
        axis.set(title=f"{title}: {stage}", xlabel="confidence (top probability)", ylabel="accuracy",
                 xlim=(0, 1.01), ylim=(0, 1.01))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="upper left")
    return figures._save(figure, path)


def write_calibration(path: str | Path, calibration: Calibration) -> Path:
    from digitnet.core.files import write_json

    return write_json(path, calibration.to_json())


def read_calibration(path: str | Path) -> Calibration:
    """A calibration.json written by write_calibration; ValueError naming the file otherwise."""
    try:
        return Calibration.from_json(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, ValueError) as error:
        raise ValueError(f"{path}: not a calibration file ({error})") from None
