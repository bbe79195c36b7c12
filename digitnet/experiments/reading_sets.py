"""The digit and non-digit sets that calibration and the "not a digit" judge are fitted and measured on.

Three purposes, never mixed:

- "train": what the not-a-digit detector learns from: MNIST training digits
  before the validation split, and negatives of TRAIN_SEED.
- "fit": what temperatures and thresholds are chosen on: the validation split
  (the last VALIDATION_FRACTION of MNIST's training set, as Keras'
  validation_split holds out) and negatives of FIT_SEED. The reference models
  were trained on all 60,000 training digits, so to them the clean
  validation digits are familiar; their photos and restyled versions are not.
- "measure": what the targets are measured on: MNIST's test digits and
  negatives of MEASURE_SEED (other seeds, other digits under the crossed-out
  and overlaid negatives).

Each purpose gives named sets of prepared 28x28 inputs, exactly what `predict`
hands a model: "clean" (the arrays themselves), "photos" (photo_synth photos
read back through preprocess.to_mnist), "styles" (restyle.py's other
handwriting styles, read back the same way), and the negatives as drawn
("negatives") and photographed ("negative_photos"). Labels of negatives
are NOT_A_DIGIT.

The fit purpose also has "pen": digits drawn in other hands from pen
trajectories (digitnet.data.other_styles) with PEN_SEEDS["fit"], read back the
same way, so that a temperature learns what strokes unlike MNIST's do to a
model's confidence. The measuring set of that generator (benchmarks/
calibration.py: seed 0) shares the generator and not one random draw with it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from digitnet.core.errors import DataError
from digitnet.data import negatives, other_styles, restyle
from digitnet.data.photo_synth import photo_set
from digitnet.data.sources import load_digits, split_validation
from digitnet.serving.preprocess import to_grey, to_mnist

PURPOSES = ("train", "fit", "measure")
VALIDATION_FRACTION = 0.1
NOT_A_DIGIT = -1
TRAIN_SEED, FIT_SEED, MEASURE_SEED = 300, 100, 200
PEN_SEEDS = {"fit": 100}  # other_styles' measuring set (benchmarks/calibration.py) uses seed 0
# Examples per set and purpose (clean digits: all of the split, at most this many).
SIZES = {
    "train": {"clean": 24000, "photos": 4000, "styles": 4000, "negatives": 24000, "negative_photos": 4000,
              "negative_styles": 4000},
    "fit": {"clean": 6000, "photos": 2000, "styles": 2000, "negatives": 3000, "negative_photos": 1500, "pen": 2000},
    "measure": {"clean": 10000, "photos": 3000, "styles": 3000, "negatives": 3000, "negative_photos": 1500},
}


@dataclasses.dataclass(frozen=True)
class LabelledSet:
    """uint8 inputs [N, 28, 28] and labels [N] (0-9, or NOT_A_DIGIT), with the negatives' kinds;
    `unread` counts the pictures in which preprocessing found no digit at all (they are not in
    the arrays: `predict` answers them with its "no digit found" error)."""

    images: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray | None = None
    unread: int = 0


def split_digits(purpose: str) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST digits of a purpose (see the module docstring)."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}; received {purpose!r}")
    mnist = load_digits()
    if purpose == "measure":
        return mnist.test_images, mnist.test_labels
    (images, labels), (held, held_labels) = split_validation(mnist.train_images, mnist.train_labels,
                                                             VALIDATION_FRACTION)
    return (images, labels) if purpose == "train" else (held, held_labels)


def prepared(pictures) -> tuple[np.ndarray, np.ndarray]:
    """Pillow images or float grey arrays -> (uint8 [M, 28, 28] as preprocess prepares a user's
    file, bool [N]: which pictures it found a digit in)."""
    inputs, found = [], []
    for picture in pictures:
        try:
            inputs.append(to_mnist(to_grey(picture) if hasattr(picture, "mode") else picture))
            found.append(True)
        except DataError:
            found.append(False)
    return np.stack(inputs) if inputs else np.zeros((0, 28, 28), np.uint8), np.array(found, dtype=bool)


def photographed(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Photos (photo_synth's random mix of hard cases) of 28x28 drawings, prepared back to 28x28."""
    return prepared(photo_set(images, None, seed=seed))


def restyled(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawings in other styles (restyle.py), prepared back to 28x28."""
    return prepared(restyle.restyled_pictures(images, seed))


def pen_drawn(count: int, seed: int) -> LabelledSet:
    """other_styles' pen-trajectory digits (labels cycling 0-9) as predict prepares them."""
    pages, labels, _ = other_styles.measuring_set(count, seed)
    return _labelled(prepared(pages), np.asarray(labels))


def _labelled(made: tuple[np.ndarray, np.ndarray], labels: np.ndarray, kinds: np.ndarray | None = None) -> LabelledSet:
    inputs, found = made
    return LabelledSet(inputs, labels[found], None if kinds is None else kinds[found], int(np.sum(~found)))


def _seed(purpose: str) -> int:
    return {"train": TRAIN_SEED, "fit": FIT_SEED, "measure": MEASURE_SEED}[purpose]


def _pick(count: int, total: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(total, min(count, total), replace=False))


def build_sets(purpose: str, sizes: dict[str, int] | None = None) -> dict[str, LabelledSet]:
    """The named sets of a purpose; `sizes` overrides SIZES[purpose] (smaller sets for tests)."""
    digits, labels = split_digits(purpose)
    sizes = {**SIZES[purpose], **(sizes or {})}
    seed = _seed(purpose)
    rng = np.random.default_rng(seed)
    sets = {}
    chosen = _pick(sizes["clean"], len(labels), rng)
    sets["clean"] = LabelledSet(digits[chosen], labels[chosen])
    for name, make in (("photos", photographed), ("styles", restyled)):
        if sizes.get(name):
            chosen = _pick(sizes[name], len(labels), rng)
            sets[name] = _labelled(make(digits[chosen], seed + len(sets)), labels[chosen])
    drawn = negatives.generate(sizes["negatives"], seed, digits=digits, labels=labels)
    sets["negatives"] = LabelledSet(drawn.images, np.full(len(drawn.images), NOT_A_DIGIT), drawn.kinds)
    for name, make in (("negative_photos", photographed), ("negative_styles", restyled)):
        if sizes.get(name):
            extra = negatives.generate(sizes[name], seed + 7 + len(sets), digits=digits, labels=labels)
            sets[name] = _labelled(make(extra.images, seed + len(sets)), np.full(len(extra.images), NOT_A_DIGIT),
                                   extra.kinds)
    if sizes.get("pen") and purpose in PEN_SEEDS:  # last, so that the other sets keep their seeds
        sets["pen"] = pen_drawn(sizes["pen"], PEN_SEEDS[purpose])
    return sets


def _cache_key(purpose: str, sizes: dict | None) -> str:
    generators = (negatives, restyle) + ((other_styles,) if purpose in PEN_SEEDS else ())
    sources = [Path(module.__file__).read_bytes() for module in generators]
    text = repr((purpose, sorted((sizes or {}).items()))).encode()
    return hashlib.sha256(b"".join(sources) + text).hexdigest()[:12]


def cached_sets(purpose: str, cache_dir: str | Path | None, sizes: dict[str, int] | None = None
                ) -> dict[str, LabelledSet]:
    """build_sets, kept in cache_dir/<purpose>_<key>.npz (the key covers the sizes and the
    generators' code), so that scripts run one after another build each purpose once."""
    if cache_dir is None:
        return build_sets(purpose, sizes)
    path = Path(cache_dir) / f"{purpose}_{_cache_key(purpose, sizes)}.npz"
    if path.exists():
        with np.load(path) as stored:
            names = sorted({key.split("/")[0] for key in stored.files})
            return {name: LabelledSet(stored[f"{name}/images"], stored[f"{name}/labels"],
                                      stored[f"{name}/kinds"] if f"{name}/kinds" in stored.files else None,
                                      int(stored[f"{name}/unread"]))
                    for name in names}
    sets = build_sets(purpose, sizes)
    arrays = {}
    for name, labelled in sets.items():
        arrays[f"{name}/images"], arrays[f"{name}/labels"] = labelled.images, labelled.labels
        arrays[f"{name}/unread"] = np.array(labelled.unread)
        if labelled.kinds is not None:
            arrays[f"{name}/kinds"] = labelled.kinds
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".partial.npz")
    np.savez_compressed(temporary, **arrays)
    temporary.replace(path)
    return sets
