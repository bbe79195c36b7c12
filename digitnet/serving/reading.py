"""What a person who photographs a number gets back: a reading.

    from digitnet.serving.reading import read
    reading = read("meter.jpg")            # the default reference model
    reading.number                         # "2026"
    [d.confidence for d in reading.digits] # one per digit, left to right
    reading.to_json()                      # what `python -m digitnet.predict --json` prints

An image is a file path, a Pillow image or an array (grey [H, W] as uint8 or
floats in [0, 1], or uint8 RGB [H, W, 3]). The digits are found by
digitnet.serving.segment and each is read by the model as one 28x28 input;
a single digit is prepared exactly as digitnet.serving.preprocess always
did. A model is a predictor of digitnet.serving.runtimes or the path of one.
"""
from __future__ import annotations

import dataclasses
import os
from functools import lru_cache

import numpy as np
from PIL import Image

from digitnet.core.errors import DataError
from digitnet.serving import preprocess
from digitnet.serving.line import LINE_READER_FILE, RECOUNT, line_of, recount
from digitnet.serving.segment import PAIR_READER_FILE, Segmenter, load_pair_reader, load_piece_judge


@dataclasses.dataclass(frozen=True)
class DigitReading:
    """One digit: the class, its probability (confidence) and all ten, its box in the image's
    pixels (left, top, right, bottom; right and bottom exclusive) and the 28x28 input read."""

    digit: int
    confidence: float
    probabilities: tuple[float, ...]
    box: tuple[int, int, int, int]
    image: np.ndarray = dataclasses.field(repr=False, compare=False)

    def to_json(self) -> dict:
        return {"digit": self.digit, "confidence": round(self.confidence, 6), "box": list(self.box),
                "probabilities": [round(p, 6) for p in self.probabilities]}


@dataclasses.dataclass(frozen=True)
class Reading:
    """The digits left to right, and the number they make."""

    digits: tuple[DigitReading, ...]

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    def to_json(self) -> dict:
        return {"number": self.number, "digits": [d.to_json() for d in self.digits]}


def grey_of(image, name: str = "image") -> np.ndarray:
    """A path, Pillow image or array -> float64 grey [H, W] in [0, 1]."""
    if isinstance(image, (str, os.PathLike)):
        return preprocess.load_image(image)
    if isinstance(image, Image.Image):
        return preprocess.to_grey(image)
    array = np.asarray(image)
    if array.dtype == np.uint8 and array.ndim in (2, 3):
        return preprocess.to_grey(Image.fromarray(array))
    if array.ndim == 2 and np.issubdtype(array.dtype, np.floating) and array.size:
        if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
            raise DataError(f"{name}: a float image must hold values in [0, 1], received "
                            f"[{np.nanmin(array):.3g}, {np.nanmax(array):.3g}]")
        return array.astype(np.float64)
    raise DataError(f"{name}: expected a grey [H, W] or RGB [H, W, 3] image (uint8, or floats in [0, 1] for grey), "
                    f"received an array of shape {array.shape} and type {array.dtype}")


@lru_cache(maxsize=4)
def _loaded(path: str):
    from digitnet.serving.runtimes import load_predictor

    return load_predictor(path)


def predictor_of(model=None):
    """A predictor: `model` itself when callable, else the one loaded from its path (the default
    reference model when None), kept for the next call."""
    if callable(model):
        return model
    if model is None:
        from digitnet.serving.runtimes import default_model

        model = default_model()[0]
    return _loaded(str(model))


@lru_cache(maxsize=1)
def piece_judge():
    """The piece judge that number reading weighs its candidate cuts with (segment.PIECE_JUDGE_FILE)."""
    return load_piece_judge()


@lru_cache(maxsize=1)
def pair_reader():
    """The pair reader that number reading reads wide pieces of touching digits with
    (segment.PAIR_READER_FILE), or None when there is no such file."""
    return load_pair_reader() if PAIR_READER_FILE.is_file() else None


@lru_cache(maxsize=1)
def line_reader():
    """The line reader whose count number reading follows where the segmenter's differs
    (line.LINE_READER_FILE, through LiteRT), or None when there is no such file."""
    from digitnet.serving.runtimes import load_predictor

    return load_predictor(LINE_READER_FILE) if LINE_READER_FILE.is_file() else None


def read(image, model=None, name: str | None = None, judge_pieces: bool = True, read_pairs: bool = True,
         read_lines: bool = True) -> Reading:
    """The reading of an image (path, Pillow image or array); `name` names it in errors.
    `judge_pieces=False` leaves the cuts of touching digits to the model's confidence and the
    priors alone (without the piece judge); `read_pairs=False` reads every piece as one digit
    (without the pair reader); `read_lines=False` keeps the segmenter's count of digits
    (without the line reader, line.recount)."""
    name = name or (str(image) if isinstance(image, (str, os.PathLike)) else "image")
    predictor = predictor_of(model)
    ink = preprocess.ink_image(grey_of(image, name), name)
    segmenter = Segmenter(ink, name, predictor, one_digit=piece_judge() if judge_pieces else None,
                          read_pair=pair_reader() if read_pairs else None)
    digits = segmenter.find()
    reader = line_reader() if read_lines else None
    if reader is not None:
        try:
            line = line_of(segmenter)
        except DataError:
            line = None
        if line is not None:
            digits = recount(digits, reader(line[None])[0], segmenter.find, RECOUNT)
    return Reading(tuple(DigitReading(int(np.argmax(d.probabilities)), float(np.max(d.probabilities)),
                                      tuple(float(p) for p in d.probabilities), tuple(int(v) for v in d.box), d.image)
                         for d in digits))
