"""The selection rule of reports/not_a_digit.md, as code: temperatures, the detector's threshold, confidence floors.

Everything here looks at the "fit" sets only (experiments/reading_sets.py);
benchmarks/calibration.py and benchmarks/not_a_digit.py call it and write
what it chooses to saved_models/not_a_digit/<version>/judge.json.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

import numpy as np

from digitnet.core.files import write_json
from digitnet.serving.calibration import Calibration, expected_calibration_error, fit
from digitnet.serving.judge import DETECTOR_FILE, JUDGE_FILE, ModelSettings

ECE_TARGETS = {"clean": 0.01, "photos": 0.02, "styles": 0.02, "pen": 0.02}
# The most of the fit sets' digits that may be refused: half of the measured targets (0.5 %, 1 %).
REFUSAL_LIMITS = {"clean": 0.0025, "photos": 0.005}
FLOORS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)
THRESHOLD_DIGITS = 6  # thresholds are rounded up to 1e-6

Labelled = Mapping[str, tuple[np.ndarray, np.ndarray]]  # set name -> (probabilities, labels)


def _ratio(sets: Labelled, calibration: Calibration) -> float:
    """The largest ECE / target over the sets that have a target."""
    return max(expected_calibration_error(calibration(p), y) / ECE_TARGETS[name]
               for name, (p, y) in sets.items() if name in ECE_TARGETS)


def choose_temperature(sets: Labelled) -> tuple[Calibration, str]:
    """Rule 1: one temperature per answered digit, by negative log-likelihood over the fit sets
    (each set weighing the same); returns the calibration and how it was chosen (saying so when
    it misses a target on the fit sets themselves)."""
    fitted = fit(sets, by_answer=True)
    how = "negative log-likelihood, one temperature per answered digit"
    return fitted, how if _ratio(sets, fitted) <= 1 else f"{how} (misses a target on the fit sets)"


def refusal_rate(refused: np.ndarray, unread: int = 0) -> float:
    """Refused inputs over all, counting the pictures preprocessing found no digit in as refused."""
    return (int(np.sum(refused)) + unread) / (len(refused) + unread)


def _ceil(value: float) -> float:
    return math.ceil(value * 10 ** THRESHOLD_DIGITS) / 10 ** THRESHOLD_DIGITS


def choose_threshold(scores: Mapping[str, np.ndarray], unread: Mapping[str, int]) -> float:
    """Rule 3: the smallest threshold t at which "score >= t" refuses at most REFUSAL_LIMITS[name]
    of each named set of digits (unread pictures counting as refused)."""
    threshold = 0.0
    for name, limit in REFUSAL_LIMITS.items():
        values = np.sort(np.asarray(scores[name], dtype=np.float64))[::-1]
        allowed = math.floor(limit * (len(values) + unread.get(name, 0))) - unread.get(name, 0)
        if allowed < 0:
            raise ValueError(f"{name}: {unread[name]} unread pictures already exceed the limit of {limit:.2%}")
        if allowed < len(values):
            threshold = max(threshold, _ceil(values[allowed] + 10 ** -THRESHOLD_DIGITS / 2))
    return threshold


def choose_floor(scores: Mapping[str, np.ndarray], confidences: Mapping[str, np.ndarray],
                 unread: Mapping[str, int], threshold: float) -> float:
    """Rule 4: the largest of FLOORS at which "score >= threshold or confidence < floor" still
    keeps within REFUSAL_LIMITS."""
    chosen = 0.0
    for floor in FLOORS:
        if all(refusal_rate((scores[n] >= threshold) | (confidences[n] < floor), unread.get(n, 0)) <= limit
               for n, limit in REFUSAL_LIMITS.items()):
            chosen = floor
    return chosen


def write_judge(folder: str | Path, threshold: float | None = None,
                models: Mapping[str, ModelSettings] | None = None) -> Path:
    """Updates folder/judge.json: the detector's threshold and the models' settings (by
    fingerprint); what is not given stays as it was."""
    path = Path(folder) / JUDGE_FILE
    record = json.loads(path.read_text()) if path.exists() else {
        "rule": "reports/not_a_digit.md", "detector": {"file": DETECTOR_FILE, "threshold": None}, "models": {}}
    if threshold is not None:
        record["detector"]["threshold"] = threshold
    for key, settings in (models or {}).items():
        record["models"][key] = settings.to_json()
    return write_json(path, record)
