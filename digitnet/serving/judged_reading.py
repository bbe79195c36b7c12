"""A reading with the not-a-digit judge's verdict on each of its pieces (`predict --not-a-digit`).

    from digitnet.serving.judged_reading import judge_for, judged
    result = judged(read("letter.png", model), judge_for(model))
    result.number          # "?" for a piece that is not a digit: "2?26"
    result.line("letter.png")   # "letter.png: not a digit: the ink looks like no digit (not-a-digit score 1.00)"

The judge (digitnet/serving/judge.py, NumPy) looks at the very 28x28 inputs
and served probabilities the reading holds, so judging adds no model call and
no TensorFlow. The reading itself is kept untouched: its JSON keeps every
field it has without the judge ("number" is still the classifier's digits),
and the judge's fields are added beside them, so scripts written for the
plain output keep working.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from digitnet.core.errors import DataError
from digitnet.serving.judge import Judge, Verdict, load_judge
from digitnet.serving.reading import Reading

REFUSED_MARK = "?"  # stands for a piece that is not a digit in a number


def judge_for(model_path: str | os.PathLike | None) -> Judge:
    """The published judge for the model file (temperature 1 and the detector alone for a
    model it does not know, or for None: no file at hand); DataError when the judge's folder
    cannot be read."""
    try:
        return load_judge(model_path)
    except ValueError as error:
        raise DataError(str(error)) from None


@dataclasses.dataclass(frozen=True)
class JudgedReading:
    """A reading and one Verdict per digit, in the same order."""

    reading: Reading
    verdicts: tuple[Verdict, ...]

    @property
    def number(self) -> str:
        """The digits left to right, with REFUSED_MARK for each piece that is not a digit."""
        return "".join(REFUSED_MARK if v.digit is None else str(d.digit)
                       for d, v in zip(self.reading.digits, self.verdicts))

    @property
    def not_a_digit(self) -> bool:
        """True when no piece of the image is a digit."""
        return bool(self.verdicts) and all(v.digit is None for v in self.verdicts)

    def to_json(self) -> dict:
        """Reading.to_json() as it is, plus "judged_number", "not_a_digit" and, per digit,
        "not_a_digit", "not_a_digit_probability", "calibrated_confidence" and "reason"."""
        record = self.reading.to_json()
        for entry, verdict in zip(record["digits"], self.verdicts):
            entry.update(not_a_digit=verdict.digit is None, not_a_digit_probability=round(verdict.not_a_digit, 6),
                         calibrated_confidence=round(verdict.confidence, 6), reason=verdict.reason)
        record.update(judged_number=self.number, not_a_digit=self.not_a_digit)
        return record

    def line(self, name: str) -> str:
        """`x.png: not a digit: <the judge's reason>` when no piece is a digit, else the calibrated
        probabilities: `x.png: 7 (probability 0.998)` or `x.png: 2?26 (0.99 ? 0.99 0.98)`."""
        if self.not_a_digit:
            return f"{name}: not a digit: {'; '.join(v.reason for v in self.verdicts)}"
        if len(self.verdicts) == 1:
            return f"{name}: {self.number} (probability {self.verdicts[0].confidence:.3f})"
        shown = " ".join(REFUSED_MARK if v.digit is None else f"{v.confidence:.2f}" for v in self.verdicts)
        return f"{name}: {self.number} ({shown})"


def judged(reading: Reading, judge: Judge) -> JudgedReading:
    """The judge's verdict on every digit of the reading."""
    if not reading.digits:
        return JudgedReading(reading, ())
    images = np.stack([d.image for d in reading.digits])
    probabilities = np.array([d.probabilities for d in reading.digits], dtype=np.float64)
    return JudgedReading(reading, tuple(judge.judge(images, probabilities)))
