"""Training the pair reader: two touching digits read at once.

Two neighbours that touch or cross make one piece of ink that no cut parts
cleanly: each side keeps a stroke of the other, and the classifier and the
piece judge read the whole as one digit. The pair reader reads such a piece
as people do, as two digits: a small CNN of the piece judge's shape
(judge.DETECTOR_LAYERS, so that it runs in NumPy and in the page's
JavaScript alike) with PAIR_CLASSES outputs, the hundred pairs "00"-"99"
(class 10 * left + right) and NOT_A_PAIR.

Its examples are the segmenter's candidates, prepared as number reading
prepares any candidate: those of the piece judge's cached numbers
(piece_judge.piece_set with PIECE_MIX: 30 % coarse, 30 % tight) and of
PAIR_NUMBERS numbers of two digits written with tight gaps
(piece_judge.TIGHT_GAP), a COARSE share of them with coarse digits, and,
with --wide N, of N numbers of 1-3 digits some of which are stretched in
width (a wide digit alone is "not a pair"), and, with --letters N, of N numbers
with one place of ink that is no digit (letter_numbers: what covers it is "not
a pair"), all from reading_sets' "train"
purpose (MNIST training digits before the validation split). Each is labelled by its ink box against the digits' true boxes
(label_pair). The pieces it is tested on at the end of the run come from
the "fit" purpose (the validation split). Whether number reading uses it is
chosen by the rule in reports/number_reading.md
(experiments/piece_judge_selection.py --pair-reader).

    python -m digitnet.experiments.pair_reader --jobs 2 --output-dir runs/pair_reader --save runs/pair_readers/pairs.npz
    python -m digitnet.experiments.pair_reader --jobs 2 --wide 2000 --output-dir runs/pair_reader_wide \
        --save runs/pair_readers/pairs_wide.npz
    python -m digitnet.experiments.pair_reader --jobs 2 --wide 2000 --letters 2000 \
        --output-dir runs/pair_reader_letters --save runs/pair_readers/pairs_letters.npz
"""
from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from digitnet.core.errors import DataError
from digitnet.data import negatives, photo_synth
from digitnet.data.coarse import coarse
from digitnet.data.number_synth import make_number, number_set
from digitnet.data.sources import DigitArrays
from digitnet.experiments import piece_judge
from digitnet.experiments.detector import build_detector, run_parser, save_weights
from digitnet.experiments.reading_sets import split_digits
from digitnet.models.registry import ModelSpec
from digitnet.serving.segment import NOT_A_PAIR, PAIR_CLASSES, WIDEST_FIELD

NAME = "pair_reader"
EPOCHS, BATCH, LEARNING_RATE, SEED = 8, 128, 2e-3, 0
PIECE_MIX = piece_judge.Mix(coarse=0.3, tight=0.3)  # the piece judge's cached numbers it also learns from
PAIR_NUMBERS = {"train": 4000, "fit": 500}  # numbers of two touching digits, per purpose
PAIR_SEEDS = {"train": 8000, "fit": 8900}  # shard k: seed PAIR_SEEDS[purpose] + k (coarse ones + COARSE_SEED)
COARSE = 0.3
# --wide N: N numbers of WIDE_LENGTHS digits (a tenth of N for the "fit" purpose), each digit stretched
# in width with probability WIDE_SHARE by a factor in WIDE_STRETCH (its ink kept within the 28x28 field);
# shard k seeded WIDE_SEEDS[purpose] + k.
WIDE_LENGTHS, WIDE_SHARE, WIDE_STRETCH = (1, 2, 3), 0.5, (1.2, 2.0)
WIDE_SEEDS = {"train": 8200, "fit": 8950}
# --letters N: N numbers of LETTER_LENGTHS places, one of them ink that is no digit (negatives.generate's
# LETTER_KINDS, its seed the shard's), every second one with tight gaps; "not a pair" wherever that ink is.
LETTER_LENGTHS, LETTER_KINDS = (2, 3), ("letter", "symbol", "scribble", "shape")
LETTER_SEEDS = {"train": 8700, "fit": 8980}
# The cache names a shard by kind, purpose, shard and count only: a change to the constants above (or
# to number_synth, coarse, the segmenter's candidates) needs another cache folder (--cache).


def check_seeds(counts: dict[str, int], purpose: str) -> None:
    """DataError when so many pair, wide or letter numbers are asked for that their shards' seeds would
    reach the next set's (pairs up to the wide seeds, wide numbers up to the coarse pairs', letter numbers
    up to the "fit" pairs')."""
    kinds = ("pairs", "wide", "letters")
    shards = {kind: -(-counts.get(kind, 0) // piece_judge.SHARD) for kind in kinds}
    room = {"pairs": WIDE_SEEDS["train"] - PAIR_SEEDS["train"],
            "wide": PAIR_SEEDS["train"] + piece_judge.COARSE_SEED - WIDE_SEEDS["train"],
            "letters": PAIR_SEEDS["fit"] - LETTER_SEEDS["train"]}
    if purpose == "train" and any(shards[kind] > room[kind] for kind in shards):
        raise DataError(", ".join(f"at most {room[kind] * piece_judge.SHARD:,} {kind}" for kind in kinds)
                        + " numbers keep their seeds apart, received "
                        + ", ".join(f"{counts.get(kind, 0):,}" for kind in kinds))

UNITS = 64  # the dense layer's units (judge.DETECTOR_LAYERS'), --units to change
FIELD = 28  # the width of its inputs: 28x28 as any digit's, or --field 56: the piece fitted into 20x40 of 28x56


def pair_spec(units: int = UNITS, width: int = FIELD) -> ModelSpec:
    """The pair reader as a ModelSpec of digitnet's loop: judge.DETECTOR_LAYERS with PAIR_CLASSES
    outputs and `units` in its dense layer, reading inputs [28, width]."""
    return ModelSpec(functools.partial(build_detector, classes=PAIR_CLASSES, units=units, width=width),
                     "classification", EPOCHS, LEARNING_RATE, BATCH,
                     f"pair reader: the hundred pairs of digits and 'not a pair' (judge.DETECTOR_LAYERS, {units} units, "
                     f"inputs 28x{width})")


def label_pair(box: Sequence[int], boxes: Sequence[Sequence[int]], number: str) -> int | None:
    """What a candidate with ink box `box` is, against the number's digits' ink `boxes` (left to
    right, all (left, top, right, bottom), exclusive): 10 * left + right when it covers at least
    ONE_DIGIT of the columns of two neighbouring digits, under PART_OF_OTHER of any other's, its
    rows overlapping theirs by at least SAME_ROWS of their union; NOT_A_PAIR when it is one digit, part
    of one, covers most of three or more, or PART_OF_OTHER of ink that is no digit (NOT_A_DIGIT_MARK);
    None in between (left out of training)."""
    covered = np.array([max(0, min(box[2], b[2]) - max(box[0], b[0])) / max(1, b[2] - b[0]) for b in boxes])
    if any(number[i] == piece_judge.NOT_A_DIGIT_MARK for i in np.flatnonzero(covered >= piece_judge.PART_OF_OTHER)):
        return NOT_A_PAIR  # holds much of ink that is no digit: never a pair of digits
    full = np.flatnonzero(covered >= piece_judge.ONE_DIGIT)
    if len(full) == 2 and full[1] == full[0] + 1 and (np.delete(covered, full) < piece_judge.PART_OF_OTHER).all():
        top = min(boxes[full[0]][1], boxes[full[1]][1])
        bottom = max(boxes[full[0]][3], boxes[full[1]][3])
        rows = max(0, min(box[3], bottom) - max(box[1], top)) / max(1, max(box[3], bottom) - min(box[1], top))
        if rows >= piece_judge.SAME_ROWS:
            return 10 * int(number[full[0]]) + int(number[full[1]])
    most = (covered >= piece_judge.MOST).sum()
    if most >= 3 or piece_judge.label_piece(box, boxes, number) not in (None, piece_judge.NOT_A_DIGIT_CLASS) \
            or covered.max() < piece_judge.MOST:
        return NOT_A_PAIR
    return None


def pair_numbers(purpose: str, shard: int, count: int) -> list:
    """number_set's (photo, number, boxes) of `count` numbers of two digits with tight gaps, the last
    round(count * COARSE) with coarse digits."""
    digits, labels = split_digits(purpose)
    seed = PAIR_SEEDS[purpose] + shard
    blocky = int(round(count * COARSE))
    written = number_set(digits, labels, [2] * (count - blocky), seed, gap=piece_judge.TIGHT_GAP)
    if blocky:
        pool = np.random.default_rng(seed).choice(len(digits), min(piece_judge.COARSE_POOL, len(digits)),
                                                  replace=False)
        written += number_set(coarse(digits[pool]), labels[pool], [2] * blocky, seed + piece_judge.COARSE_SEED,
                              gap=piece_judge.TIGHT_GAP)
    return written


def stretched(digit: np.ndarray, factor: float) -> np.ndarray:
    """A 28x28 uint8 digit with its ink box resized to `factor` times its width (at most the field's
    28 columns), centred where the box was."""
    from PIL import Image

    columns = np.flatnonzero(digit.max(axis=0) > 0)
    if columns.size == 0:
        return digit
    first, last = int(columns[0]), int(columns[-1]) + 1
    width = min(28, max(1, int(round((last - first) * factor))))
    ink = np.asarray(Image.fromarray(digit[:, first:last]).resize((width, 28), Image.Resampling.BILINEAR))
    left = min(max(0, (first + last) // 2 - width // 2), 28 - width)
    out = np.zeros_like(digit)
    out[:, left:left + width] = ink
    return out


def wide_numbers(purpose: str, shard: int, count: int) -> list:
    """number_set's (photo, number, boxes) of `count` numbers of WIDE_LENGTHS digits, each stretched
    with probability WIDE_SHARE (stretched before the number is written: its box is the wide ink's)."""
    digits, labels = split_digits(purpose)
    seed = WIDE_SEEDS[purpose] + shard
    rng = np.random.default_rng(seed)
    pool = rng.choice(len(digits), min(piece_judge.COARSE_POOL, len(digits)), replace=False)
    wide = np.stack([stretched(d, rng.uniform(*WIDE_STRETCH)) if rng.random() < WIDE_SHARE else d
                     for d in digits[pool]])
    return number_set(wide, labels[pool], rng.choice(WIDE_LENGTHS, count), seed)


def letter_numbers(purpose: str, shard: int, count: int, seed: int | None = None,
                   lengths: tuple[int, ...] = LETTER_LENGTHS) -> list:
    """(photo, number, boxes) of `count` numbers of `lengths` places (LETTER_LENGTHS), one place (at random) ink that is
    no digit, written piece_judge.NOT_A_DIGIT_MARK in the number; every second number with tight gaps
    (piece_judge.TIGHT_GAP), so that the ink touches its neighbours. Seeded LETTER_SEEDS[purpose] + shard
    unless `seed` is given."""
    digits, labels = split_digits(purpose)
    seed = LETTER_SEEDS[purpose] + shard if seed is None else seed
    rng = np.random.default_rng(seed)
    marks = negatives.generate(count, seed, kinds=LETTER_KINDS).images
    written = []
    for index in range(count):
        length = int(rng.choice(lengths))
        where = int(rng.integers(length))
        chosen = rng.choice(len(digits), length - 1, replace=False)
        glyphs = [digits[i] for i in chosen]
        text = [str(int(labels[i])) for i in chosen]
        glyphs.insert(where, marks[index])
        text.insert(where, piece_judge.NOT_A_DIGIT_MARK)
        photo, boxes = make_number(glyphs, photo_synth.random_cases(rng), rng, rgb=index % 3 == 2,
                                   gap=piece_judge.TIGHT_GAP if index % 2 else None)
        written.append((photo, "".join(text), boxes))
    return written


WRITERS = {"pairs": pair_numbers, "wide": wide_numbers, "letters": letter_numbers}


def pair_shard(purpose: str, shard: int, count: int, kind: str = "pairs", width: int = FIELD) -> dict[str, np.ndarray]:
    """The candidates of WRITERS[kind](...)'s numbers, as piece_judge.piece_shard gives them (inputs `width` wide)."""
    return piece_judge.candidates_of(WRITERS[kind](purpose, shard, count), max(WIDE_LENGTHS), width=width)


def shard_pair_labels(shard: dict[str, np.ndarray]) -> np.ndarray:
    """label_pair of each candidate of a shard, -1 where it is left out."""
    return piece_judge.shard_labels(shard, label_pair)


def _cached_pairs(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    """One shard's images and pair labels (left-out pieces dropped): kind "pieces" is the piece
    judge's shard (kept under its name), kind "pairs" a shard of pair_numbers and "wide" one of
    wide_numbers (<kind>_<purpose>_<k>_<count>.npz, _w<width> before .npz for wide fields)."""
    kind, purpose, shard, count, cache_dir, width = job
    folder = None if cache_dir is None else Path(cache_dir)
    if kind == "pieces":
        mix = dataclasses.replace(PIECE_MIX, width=width)
        path = None if folder is None else folder / piece_judge.shard_file(purpose, shard, count, mix)
        found = piece_judge.cached(path, lambda: piece_judge.piece_shard(purpose, shard, count, mix))
    else:
        tag = "" if width == FIELD else f"_w{width}"
        path = None if folder is None else folder / f"{kind}_{purpose}_{shard}_{count}{tag}.npz"
        found = piece_judge.cached(path, lambda: pair_shard(purpose, shard, count, kind, width))
    labels = shard_pair_labels(found)
    kept = labels >= 0
    return found["images"][kept], labels[kept].astype(np.uint8)


def pair_set(purpose: str, cache_dir: str | None, counts: dict[str, int] | None = None, jobs: int = 1,
             progress=None, width: int = FIELD) -> tuple[np.ndarray, np.ndarray]:
    """The labelled candidates of the purpose's piece-judge numbers, pair numbers and wide numbers
    (`counts`: {"pieces": n, "pairs": n, "wide": n}; no wide numbers unless given), shard by shard,
    each kept in `cache_dir`; inputs `width` wide."""
    counts = {"pieces": piece_judge.NUMBERS[purpose], "pairs": PAIR_NUMBERS[purpose], "wide": 0, "letters": 0,
              **(counts or {})}
    check_seeds(counts, purpose)
    shard = piece_judge.SHARD
    work = [(kind, purpose, index, min(shard, counts[kind] - start), cache_dir, width)
            for kind in ("pieces", "pairs", "wide", "letters")
            for index, start in enumerate(range(0, counts[kind], shard))]
    shards = piece_judge.run_shards(_cached_pairs, work, jobs, progress, purpose)
    return np.concatenate([images for images, _ in shards]), np.concatenate([labels for _, labels in shards])


def train_pair_reader(output_dir: str | Path, cache_dir: str | None, seed: int = SEED, epochs: int = EPOCHS,
                      counts: dict | None = None, verbose: int = 1, fresh: bool = False, jobs: int = 1,
                      progress=None, units: int = UNITS, width: int = FIELD):
    """Trains the pair reader through the loop in `output_dir`, deterministically; `counts`:
    {purpose: {"pieces": n, "pairs": n, "wide": n}} (pair_set); inputs `width` wide. Returns
    (RunResult, Keras model)."""
    import keras

    from digitnet.training.config import TrainConfig
    from digitnet.training.loop import train

    counts = counts or {}
    train_set = pair_set("train", cache_dir, counts.get("train"), jobs, progress, width)
    test_set = pair_set("fit", cache_dir, counts.get("fit"), jobs, progress, width)
    data = DigitArrays(*train_set, *test_set, source="number_synth candidates of reading_sets' 'train' digits "
                                                     "(pairs labelled); tested on those of its 'fit' digits")
    config = TrainConfig(arch=NAME, epochs=epochs, seed=seed, deterministic=True, output_dir=str(output_dir),
                         verbose=verbose, fresh=fresh)
    result = train(config, data=data, spec=pair_spec(units, width))
    model = keras.models.load_model(result.model_path)
    if model.input_shape[2] != width:
        raise DataError(f"{output_dir}: holds a pair reader of fields {model.input_shape[2]} wide, asked for {width} "
                        f"(another --output-dir, or --fresh)")
    return result, model


def main(argv: list[str] | None = None) -> int:
    parser = run_parser("pair_reader", __doc__, NAME, "runs/piece_sets", "folder that keeps the generated pieces", SEED,
                        EPOCHS)
    parser.add_argument("--save", required=True, help="where the weights go (.npz)")
    parser.add_argument("--jobs", type=int, default=1, help="processes that write and cut the numbers")
    parser.add_argument("--pairs", type=int, default=PAIR_NUMBERS["train"],
                        help="two-digit numbers with touching neighbours learnt from (the first shards are the same)")
    parser.add_argument("--units", type=int, default=UNITS, help="units of the dense layer")
    parser.add_argument("--field", type=int, default=FIELD,
                        help="width of its inputs: 28 (28x28, as any digit) or a multiple of 28 (56: 28x56, "
                             "the piece fitted into 20x40)")
    parser.add_argument("--wide", type=int, default=0,
                        help="numbers of 1-3 digits, some stretched in width, also learnt from (a tenth as many tested on)")
    parser.add_argument("--letters", type=int, default=0,
                        help="numbers of 2-3 places, one of them a letter, symbol, scribble or shape (not a pair), "
                             "also learnt from (a tenth as many tested on)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise DataError(f"--jobs must be a whole number from 1, received {args.jobs}")
    for flag in ("wide", "letters"):
        if getattr(args, flag) < 0:
            raise DataError(f"--{flag} must be a whole number from 0, received {getattr(args, flag)}")
    if not FIELD <= args.field <= WIDEST_FIELD or args.field % FIELD:
        raise DataError(f"--field must be a multiple of 28 up to {WIDEST_FIELD}, received {args.field}")
    if args.pairs < 1 or args.units < 1:
        raise DataError(f"--pairs and --units must be whole numbers from 1, received {args.pairs} and {args.units}")
    counts = {"train": {"wide": args.wide, "pairs": args.pairs, "letters": args.letters},
              "fit": {"wide": args.wide // 10, "letters": args.letters // 10}}
    started = time.perf_counter()

    def progress(purpose: str, done: int, total: int) -> None:
        print(f"\r{purpose}: numbers written and cut, shard {done}/{total} ({time.perf_counter() - started:.0f} s)",
              end="\n" if done == total else "", flush=True)

    result, model = train_pair_reader(args.output_dir, args.cache, args.seed, args.epochs, counts, fresh=args.fresh,
                                      jobs=args.jobs, progress=progress, units=args.units, width=args.field)
    path = save_weights(model, args.save)
    print(f"{result.headline} on the validation digits' pieces")
    print(f"{path}: {path.stat().st_size:,} bytes, in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
