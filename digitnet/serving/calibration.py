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
sets (digitnet.experiments.reading_sets: the validation split, its photos, its
restyled digits and pen-drawn digits in other hands), never on a held-back set;
the served probabilities stay exactly as they are, the calibration is applied
when a reading is reported.

One temperature cannot serve a model that is as right as it is sure on MNIST's
own strokes and surer than right on one digit it gives to other hands' strokes
(a continental 1 or a crossed 2 answered "7"). So a calibration may hold one
temperature per answered digit instead: a row answered d is divided by T_d.
The answer is known without a label, so a reading can apply it, and the answer
stays the same. The ten temperatures minimise the same objective as the one
temperature (the mean over the fit sets of each set's mean negative
log-likelihood), which splits into one independent term per answered digit.
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


def scaled(probabilities: np.ndarray, temperature) -> np.ndarray:
    """softmax(log(probabilities) / temperature), row by row; `temperature` is one number or
    one per row."""
    temperature = np.asarray(temperature, dtype=np.float64)
    logits = log_probabilities(probabilities) / (temperature[:, None] if temperature.ndim else temperature)
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    rows = scaled(probabilities, temperature)
    return float(-np.mean(np.log(np.maximum(rows[np.arange(len(labels)), labels], 1e-300))))


def _golden_section(loss, tolerance: float) -> float:
    """The T in e^LOG_T_RANGE that minimises loss(T), by golden-section search over log T
    (a negative log-likelihood is convex in 1/T)."""
    golden = (np.sqrt(5) - 1) / 2
    low, high = LOG_T_RANGE
    a, b = high - golden * (high - low), low + golden * (high - low)
    loss_a, loss_b = loss(np.exp(a)), loss(np.exp(b))
    while high - low > tolerance:
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - golden * (high - low)
            loss_a = loss(np.exp(a))
        else:
            low, a, loss_a = a, b, loss_b
            b = low + golden * (high - low)
            loss_b = loss(np.exp(b))
    return float(np.exp((low + high) / 2))


def _checked(sets: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    if not sets:
        raise ValueError("a temperature fit needs at least one set of (probabilities, labels)")
    pairs = [(np.asarray(p, dtype=np.float64), np.asarray(y)) for p, y in sets.values()]
    for p, y in pairs:
        _confidences(p, y)  # the shapes, checked
    return pairs


def fit_temperature(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], tolerance: float = 1e-4) -> float:
    """The T that minimises the mean of the sets' negative log-likelihoods (each set weighs
    the same, whatever its size)."""
    pairs = _checked(sets)
    return _golden_section(lambda t: float(np.mean([negative_log_likelihood(p, y, t) for p, y in pairs])),
                           tolerance)


def fit_temperatures_by_answer(sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
                               tolerance: float = 1e-4) -> tuple[float, ...]:
    """One T per answered class (the argmax of a row), together minimising what fit_temperature
    minimises: the mean over the sets of each set's mean negative log-likelihood. That sum splits
    into one term per answered class (a row of set s weighs 1 / len(s)), each fitted on its own;
    a class that no row is answered with gets the one fitted temperature."""
    pairs = _checked(sets)
    classes = pairs[0][0].shape[1]
    temperatures = []
    for answer in range(classes):
        parts = [(p[p.argmax(axis=1) == answer], y[p.argmax(axis=1) == answer], len(y)) for p, y in pairs]
        parts = [(p, y, total) for p, y, total in parts if len(y)]
        if not parts:
            temperatures.append(fit_temperature(sets, tolerance))
            continue
        temperatures.append(_golden_section(
            lambda t: sum(negative_log_likelihood(p, y, t) * len(y) / total for p, y, total in parts), tolerance))
    return tuple(temperatures)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it was fitted on; with `by_answer` (one temperature per
    answered class), a row answered d is divided by by_answer[d] and `temperature`, the one
    temperature fitted on the same sets, is only a record."""

    temperature: float
    fitted_on: tuple[str, ...] = ()
    by_answer: tuple[float, ...] | None = None

    def temperatures(self, probabilities: np.ndarray) -> np.ndarray | float:
        """The temperature of each row (one number when there is one temperature)."""
        if self.by_answer is None:
            return self.temperature
        return np.asarray(self.by_answer, dtype=np.float64)[np.asarray(probabilities).argmax(axis=-1)]

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        return scaled(probabilities, self.temperatures(probabilities))

    def describe(self) -> str:
        if self.by_answer is None:
            return f"temperature {self.temperature:.3f}"
        return "temperatures by answer " + " ".join(f"{t:.2f}" for t in self.by_answer)

    def to_json(self) -> dict:
        record = {"temperature": self.temperature, "fitted_on": list(self.fitted_on)}
        if self.by_answer is not None:
            record["temperatures_by_answer"] = list(self.by_answer)
        return record

    @classmethod
    def from_json(cls, record: Mapping) -> "Calibration":
        temperature = record.get("temperature") if isinstance(record, Mapping) else None
        if not _positive(temperature):
            raise ValueError(f"a calibration needs a positive finite temperature; received {record!r}")
        by_answer = record.get("temperatures_by_answer")
        if by_answer is not None and not (isinstance(by_answer, list) and by_answer
                                          and all(_positive(t) for t in by_answer)):
            raise ValueError(f"temperatures_by_answer must be a list of positive finite numbers; "
                             f"received {by_answer!r}")
        return cls(float(temperature), tuple(record.get("fitted_on", ())),
                   None if by_answer is None else tuple(float(t) for t in by_answer))


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")


IDENTITY = Calibration(1.0, ())


def fit(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], by_answer: bool = False) -> Calibration:
    """Temperature scaling fitted on the named sets: one temperature, or one per answered class."""
    return Calibration(fit_temperature(sets), tuple(sets), fit_temperatures_by_answer(sets) if by_answer else None)


def plot_reliability(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], path, title: str,
                     calibration: Calibration | None = None) -> str:
    """Reliability diagram (accuracy against confidence per bin, the diagonal being perfect) of each
    named set, before and, when `calibration` is given, after it; each legend entry gives the ECE."""
    from digitnet.core import figures  # matplotlib: only for the figure

    columns = 2 if calibration is not None else 1
    figure, axes = figures.plt.subplots(1, columns, figsize=(5.2 * columns, 5), squeeze=False)
    stages = [("as served", None)] + ([(calibration.describe(), calibration)]
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
        axis.set_title(f"{title}:\n{stage}", fontsize=9)
        axis.set( xlabel="confidence (top probability)", ylabel="accuracy",
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
