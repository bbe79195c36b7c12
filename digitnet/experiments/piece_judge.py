"""Training the piece judge: is a candidate piece of a written number one whole digit?

Number reading (serving/segment.py) cuts touching digits into units and
scores every run of a few units as a candidate digit. A digit classifier alone
cannot tell the right candidates from the wrong ones: it reads a merged pair
("49") and the half of a digit (the left stroke of a 0) as surely as a digit.
The piece judge is a small CNN that has seen such pieces: eleven classes, the
ten digits and "not one digit" (a part of a digit, two digits, a digit with a
piece of its neighbour), with judge.DETECTOR_LAYERS' shape, so that it runs in
NumPy (judge.Detector) and in the page's JavaScript alike.

Its examples are the candidates themselves: numbers of 1-6 MNIST digits are
written by digitnet.data.number_synth (gaps from overlapping to wide, baseline
wobble, sizes, photo_synth's hard cases), read by the segmenter up to its
candidates, and each prepared candidate is labelled by its ink box against the
digits' true boxes (label_piece): one digit when it covers most of that
digit's columns and little of any other's, not one digit when it covers most of
two digits or most of none, and left out between the two. The training
pieces come from the digits of reading_sets' "train" purpose (MNIST training
digits before the validation split), the pieces it is tested on at the end of
the run from its "fit" purpose (the validation split): the test set is never
used. It trains through digitnet's one loop (loop.train with PIECE_SPEC), so
its run folder resumes like any run's. A share of each shard's numbers
(Mix.coarse) is written with digits as a low-resolution scanner sees them
(digitnet.data.coarse): a judge that has seen only MNIST's resolution judges
the blocky pieces of such scans "not one digit" more often, the more it
trains. Another share (Mix.tight) may be written with neighbours that touch
or overlap (gaps of TIGHT_GAP MNIST pixels). Which judge number reading ships
is chosen by the rule in reports/number_reading.md
(experiments/piece_judge_selection.py).

    python -m digitnet.experiments.piece_judge --output-dir runs/piece_judge
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from digitnet.core.errors import DataError
from digitnet.data.coarse import coarse
from digitnet.data.number_synth import number_set
from digitnet.data.sources import DigitArrays
from digitnet.experiments.detector import build_detector, run_parser, save_weights
from digitnet.experiments.reading_sets import split_digits
from digitnet.models.registry import ModelSpec
from digitnet.serving import preprocess, segment
from digitnet.serving.judge import NOT_A_DIGIT_CLASS
from digitnet.serving.reading import grey_of

NAME = "piece_judge"
EPOCHS, BATCH, LEARNING_RATE, SEED = 8, 128, 2e-3, 0
# A piece is one digit when it covers ONE_DIGIT of that digit's columns, under PART_OF_OTHER of any
# other's, and its rows overlap the digit's by SAME_ROWS of their span; it is not one digit when it
# covers MOST of two digits' columns or of none.
ONE_DIGIT, PART_OF_OTHER, SAME_ROWS, MOST = 0.8, 0.3, 0.6, 0.6
LENGTHS, LENGTH_WEIGHTS = (1, 2, 3, 4, 5, 6), (0.1, 0.15, 0.2, 0.25, 0.15, 0.15)
# Numbers written per purpose, in shards of SHARD numbers, shard k with seed SEEDS[purpose] + k
# (disjoint from the number sets of the benchmarks and tests).
NUMBERS = {"train": 3000, "fit": 500}
SHARD = 500
SEEDS = {"train": 5000, "fit": 6000}
SHARD_KEYS = ("images", "boxes", "number", "digit_boxes", "digits")
# The pieces are the segmenter's candidates with Mix.cuts (default 3) cuts per row height, as when the
# shipped judge was chosen; reading cuts more finely (segment.CUTS), on that judge.
TRAINING_CUTS = 3
# Coarse digits (data/coarse.py) are drawn from COARSE_POOL digits of the purpose, their numbers
# seeded COARSE_SEED above the shard's; tight numbers have gaps in TIGHT_GAP (MNIST pixels), seeded
# TIGHT_SEED above the shard's.
COARSE_POOL, COARSE_SEED = 5000, 500
# A written "number" may hold ink that is no digit (pair_reader's letter numbers): NOT_A_DIGIT_MARK in
# its text, NOT_A_DIGIT_CODE in a shard's "digits"; a candidate that is that ink is "not a digit".
NOT_A_DIGIT_MARK, NOT_A_DIGIT_CODE = "?", NOT_A_DIGIT_CLASS
TIGHT_GAP, TIGHT_SEED = (-3.0, 1.0), 700


@dataclasses.dataclass(frozen=True)
class Mix:
    """The shares of each shard's numbers written with coarse digits and with tight gaps (the
    rest are number_synth's numbers as they are), and the cuts per row height of the segmenter
    whose candidates are the pieces."""

    coarse: float = 0.3
    tight: float = 0.0
    cuts: int = TRAINING_CUTS
    width: int = 28  # the pieces' inputs: 28x28, or fields this wide (preprocess.to_field's; a pair reader's)

    def __post_init__(self):
        percents = [share * 100 for share in (self.coarse, self.tight)]  # whole: the cache's names hold them
        if not (0 <= self.coarse <= 1 and 0 <= self.tight <= 1 and self.coarse + self.tight <= 1
                and all(abs(p - round(p)) < 1e-9 for p in percents)):
            raise DataError(f"the shares of coarse and tight numbers are whole percents from 0 to 1 that add up to "
                            f"at most 1; received coarse {self.coarse}, tight {self.tight}")
        if not (isinstance(self.cuts, int) and self.cuts >= 1):
            raise DataError(f"--cuts must be a whole number from 1, received {self.cuts}")
        if not (isinstance(self.width, int) and self.width >= 28 and self.width % 28 == 0):
            raise DataError(f"a field's width is a multiple of 28 pixels, received {self.width}")

    def tag(self) -> str:
        """'' for plain numbers, else '_coarse<percent>' and/or '_tight<percent>', then '_cuts<N>'
        when the pieces are cut otherwise than TRAINING_CUTS and '_w<width>' for fields wider than 28
        (the cache names a shard by it: a change to the other constants above needs another cache folder)."""
        shares = "".join(f"_{name}{round(share * 100)}" for name, share in (("coarse", self.coarse),
                                                                           ("tight", self.tight)) if share)
        return shares + (f"_cuts{self.cuts}" if self.cuts != TRAINING_CUTS else "") \
            + (f"_w{self.width}" if self.width != 28 else "")


MIX = Mix()

PIECE_SPEC = ModelSpec(
    build_detector, "classification", EPOCHS, LEARNING_RATE, BATCH,
    "piece judge: the ten digits and 'not one digit' (judge.DETECTOR_LAYERS)",
)


def label_piece(box: Sequence[int], boxes: Sequence[Sequence[int]], number: str) -> int | None:
    """What a candidate with ink box `box` is, against the number's digits' ink `boxes` (all
    (left, top, right, bottom), exclusive): the digit it covers (at least ONE_DIGIT of that
    digit's columns, under PART_OF_OTHER of any other digit's, its rows overlapping the digit's
    by at least SAME_ROWS of their union); NOT_A_DIGIT_CLASS when it covers most of two digits
    or most of none (a part of a digit); None in between (left out of training)."""
    covered = np.array([max(0, min(box[2], b[2]) - max(box[0], b[0])) / max(1, b[2] - b[0]) for b in boxes])
    best = int(np.argmax(covered))
    others = np.delete(covered, best)
    rows = max(0, min(box[3], boxes[best][3]) - max(box[1], boxes[best][1]))
    same_rows = rows / max(1, max(box[3], boxes[best][3]) - min(box[1], boxes[best][1]))
    if covered[best] >= ONE_DIGIT and (others < PART_OF_OTHER).all() and same_rows >= SAME_ROWS:
        return NOT_A_DIGIT_CLASS if number[best] == NOT_A_DIGIT_MARK else int(number[best])
    if covered[best] < MOST or (others >= MOST).any():
        return NOT_A_DIGIT_CLASS
    return None


def labelled_pieces(photo, number: str, boxes, cuts: int = TRAINING_CUTS,
                    width: int = 28) -> tuple[list[np.ndarray], list[tuple[int, ...]]]:
    """The prepared candidates of one written number (`cuts` per row height; inputs `width` wide) and
    their ink boxes."""
    try:
        ink = preprocess.ink_image(grey_of(photo, "number"), "number")
        candidates = segment.Segmenter(ink, "number", None, cuts=cuts).candidate_inputs(width)
    except DataError:
        return [], []
    return [image for image, _ in candidates], [tuple(int(v) for v in box) for _, box in candidates]


def written_numbers(purpose: str, shard: int, count: int, mix: Mix = MIX) -> list:
    """number_set's (photo, number, boxes) of one shard: first the plain numbers, then
    round(count * mix.tight) with tight gaps, last round(count * mix.coarse) with coarse digits."""
    digits, labels = split_digits(purpose)
    seed = SEEDS[purpose] + shard
    rng = np.random.default_rng(seed)
    lengths = rng.choice(LENGTHS, count, p=LENGTH_WEIGHTS)
    blocky = int(round(count * mix.coarse))
    tight = min(int(round(count * mix.tight)), count - blocky)
    plain = count - blocky - tight
    written = number_set(digits, labels, lengths[:plain], seed)
    if tight:
        written += number_set(digits, labels, lengths[plain:plain + tight], seed + TIGHT_SEED, gap=TIGHT_GAP)
    if blocky:
        pool = rng.choice(len(digits), min(COARSE_POOL, len(digits)), replace=False)
        written += number_set(coarse(digits[pool]), labels[pool], lengths[count - blocky:], seed + COARSE_SEED)
    return written


def piece_shard(purpose: str, shard: int, count: int = SHARD, mix: Mix = MIX) -> dict[str, np.ndarray]:
    """The candidates of `count` numbers written with the purpose's digits and the shard's seed
    (written_numbers): "images" uint8 [N, 28, 28], "boxes" [N, 4], "number" [N] (which number
    each comes from), "digit_boxes" [M, 6, 4] and "digits" [M, 6] of the numbers (-1 after the
    last digit)."""
    return candidates_of(written_numbers(purpose, shard, count, mix), max(LENGTHS), mix.cuts, mix.width)


def candidates_of(written: list, widest: int, cuts: int = TRAINING_CUTS, width: int = 28) -> dict[str, np.ndarray]:
    """The shard of number_set's (photo, number, boxes) of at most `widest` digits: piece_shard's arrays
    (inputs `width` wide)."""
    images, boxes, owner = [], [], []
    digit_boxes = np.full((len(written), widest, 4), -1, np.int32)
    number_digits = np.full((len(written), widest), -1, np.int8)
    for index, (photo, number, true_boxes) in enumerate(written):
        found, found_boxes = labelled_pieces(photo, number, true_boxes, cuts, width)
        images += found
        boxes += found_boxes
        owner += [index] * len(found)
        digit_boxes[index, :len(number)] = true_boxes
        number_digits[index, :len(number)] = [NOT_A_DIGIT_CODE if d == NOT_A_DIGIT_MARK else int(d) for d in number]
    return {"images": np.stack(images) if images else np.zeros((0, 28, width), np.uint8),
            "boxes": np.array(boxes, np.int32).reshape(-1, 4), "number": np.array(owner, np.int32),
            "digit_boxes": digit_boxes, "digits": number_digits}


def shard_labels(shard: dict[str, np.ndarray], label=None) -> np.ndarray:
    """label(box, digit boxes, number) of each candidate of a shard (default label_piece), -1 where it
    is left out (None)."""
    label = label or label_piece
    labels = []
    for box, index in zip(shard["boxes"], shard["number"]):
        length = int((shard["digits"][index] >= 0).sum())
        number = "".join(NOT_A_DIGIT_MARK if d == NOT_A_DIGIT_CODE else str(int(d))
                         for d in shard["digits"][index, :length])
        found = label(box, shard["digit_boxes"][index, :length], number)
        labels.append(-1 if found is None else found)
    return np.array(labels, np.int64)


def shard_file(purpose: str, shard: int, count: int, mix: Mix) -> str:
    """The cache file's name of a shard: pieces_<purpose>_<shard>_<count><mix.tag()>.npz."""
    return f"pieces_{purpose}_{shard}_{count}{mix.tag()}.npz"


def cached(path: Path | None, make, keys: Sequence[str] = SHARD_KEYS) -> dict[str, np.ndarray]:
    """The shard kept at `path` (its arrays `keys`), else make() written there atomically (when `path` is given)."""
    if path is not None and path.exists():
        with np.load(path) as stored:
            if set(keys) <= set(stored.files):  # else written by other code: written again
                return {key: stored[key] for key in keys}
    found = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".partial.npz")
        np.savez_compressed(temporary, **found)
        temporary.replace(path)
    return found


def _cached_shard(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    """A shard's images and labels (the examples left out dropped); the shard is kept in
    cache_dir/shard_file(...) when cache_dir is given."""
    purpose, shard, count, mix, cache_dir = job
    path = None if cache_dir is None else Path(cache_dir) / shard_file(purpose, shard, count, mix)
    found = cached(path, lambda: piece_shard(purpose, shard, count, mix))
    labels = shard_labels(found)
    kept = labels >= 0
    return found["images"][kept], labels[kept].astype(np.uint8)


def run_shards(function, work: list[tuple], jobs: int = 1, progress=None, purpose: str = "") -> list:
    """function(job) for each job, in `jobs` processes (spawned) when there are several;
    progress(purpose, done, total) after each."""
    if jobs > 1 and len(work) > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(min(jobs, len(work))) as pool:
            shards = []
            for done, shard in enumerate(pool.imap(function, work), 1):
                shards.append(shard)
                if progress is not None:
                    progress(purpose, done, len(work))
        return shards
    shards = []
    for done, job in enumerate(work, 1):
        shards.append(function(job))
        if progress is not None:
            progress(purpose, done, len(work))
    return shards


def piece_set(purpose: str, cache_dir: str | Path | None, count: int | None = None, jobs: int = 1,
              progress=None, mix: Mix = MIX) -> tuple[np.ndarray, np.ndarray]:
    """The candidates of `count` numbers (default NUMBERS[purpose]), shard by shard (in `jobs`
    processes), each shard kept in `cache_dir`: an interrupted run keeps its finished shards."""
    return sharded_set(_cached_shard, purpose, cache_dir, count or NUMBERS[purpose], jobs, progress, mix)


def sharded_set(cached_shard, purpose: str, cache_dir: str | Path | None, count: int, jobs: int = 1, progress=None,
                mix: Mix = MIX) -> tuple[np.ndarray, np.ndarray]:
    """cached_shard((purpose, shard, size, mix, cache_dir)) -> (images, labels) for each shard of SHARD of
    `count` numbers (in `jobs` processes), concatenated."""
    sizes = [min(SHARD, count - start) for start in range(0, count, SHARD)]
    work = [(purpose, shard, size, mix, None if cache_dir is None else str(cache_dir))
            for shard, size in enumerate(sizes)]
    shards = run_shards(cached_shard, work, jobs, progress, purpose)
    return np.concatenate([images for images, _ in shards]), np.concatenate([labels for _, labels in shards])


def piece_data(cache_dir: str | None, counts: dict[str, int] | None = None, jobs: int = 1,
               progress=None, mix: Mix = MIX) -> DigitArrays:
    """Train split: the "train" purpose's pieces; test split: the "fit" purpose's."""
    return train_and_fit(piece_set, cache_dir, counts, jobs, progress, mix, "number_synth candidates")


def train_and_fit(make_set, cache_dir: str | None, counts: dict[str, int] | None, jobs: int, progress, mix: Mix,
                  what: str) -> DigitArrays:
    """make_set(purpose, cache_dir, count, jobs, progress, mix) of the "train" purpose as the train split,
    of the "fit" purpose as the test split (`counts`: their counts, default make_set's)."""
    counts = counts or {}
    train = make_set("train", cache_dir, counts.get("train"), jobs, progress, mix)
    test = make_set("fit", cache_dir, counts.get("fit"), jobs, progress, mix)
    return DigitArrays(*train, *test, source=f"{what} of reading_sets' 'train' digits; tested on those of its 'fit' digits")


def train_piece_judge(output_dir: str | Path, cache_dir: str | None, seed: int = SEED, epochs: int = EPOCHS,
                      counts: dict | None = None, verbose: int = 1, fresh: bool = False, jobs: int = 1,
                      progress=None, mix: Mix = MIX):
    """Trains the piece judge through the loop in `output_dir`, deterministically; returns (the
    loop's RunResult, the trained Keras model)."""
    import keras

    from digitnet.training.config import TrainConfig
    from digitnet.training.loop import train

    data = piece_data(cache_dir, counts, jobs, progress, mix)
    config = TrainConfig(arch=NAME, epochs=epochs, seed=seed, deterministic=True, output_dir=str(output_dir),
                         verbose=verbose, fresh=fresh)
    result = train(config, data=data, spec=PIECE_SPEC)
    return result, keras.models.load_model(result.model_path)


def save_piece_judge(model, path: str | Path) -> Path:
    """The weights at `path` (detector.save_weights); segment reads them with judge.Detector."""
    return save_weights(model, path)


def main(argv: list[str] | None = None) -> int:
    parser = run_parser("piece_judge", __doc__, NAME, "runs/piece_sets", "folder that keeps the generated pieces", SEED,
                        EPOCHS)
    parser.add_argument("--save", default=str(segment.PIECE_JUDGE_FILE),
                        help="where the weights go (default: the file number reading loads)")
    parser.add_argument("--jobs", type=int, default=1, help="processes that write and cut the numbers")
    parser.add_argument("--numbers", type=int, default=NUMBERS["train"], help="training numbers written")
    parser.add_argument("--coarse", type=float, default=MIX.coarse,
                        help="share of the numbers written with coarse (low-resolution) digits, 0 to 1")
    parser.add_argument("--tight", type=float, default=MIX.tight,
                        help=f"share of the numbers written with gaps of {TIGHT_GAP} MNIST pixels, 0 to 1")
    parser.add_argument("--cuts", type=int, default=MIX.cuts,
                        help=f"cuts per row height of the segmenter whose candidates are the pieces (default {MIX.cuts})")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def progress(purpose: str, done: int, total: int) -> None:
        print(f"\r{purpose}: numbers written and cut, shard {done}/{total} ({time.perf_counter() - started:.0f} s)",
              end="\n" if done == total else "", flush=True)

    if args.numbers < 1:
        raise DataError(f"--numbers must be a positive whole number, received {args.numbers}")
    mix = Mix(args.coarse, args.tight, args.cuts)
    result, model = train_piece_judge(args.output_dir, args.cache, args.seed, args.epochs, {"train": args.numbers},
                                      fresh=args.fresh, jobs=args.jobs, progress=progress, mix=mix)
    path = save_piece_judge(model, args.save)
    print(f"{result.headline} on the validation digits' pieces")
    print(f"{path}: {path.stat().st_size:,} bytes, in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
