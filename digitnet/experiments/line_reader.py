"""Training the line reader: a number's whole row read at once, its digits counted by CTC.

Number reading (serving/segment.py) cuts a row into digits and reads each;
where two digits touch it can lose one ("4311" read "431"). The line reader
never cuts: a small CNN reads the row as one line image (serving/line.py's
line_input, 32x256) column by column and outputs, at each of its 64 steps,
logits over the blank, the ten digits and "not a digit" (core/ctc.py's
CLASSES); CTC (core/ctc.py, tasks.SEQUENCE) trains it on the line and the
number alone, with no digit boxes.

Its examples are numbers of 1-6 MNIST digits written the way the piece judge's
are (piece_judge.written_numbers: number_synth's gaps from overlapping to
wide, baseline wobble, sizes and photo_synth's hard cases, a share with
coarse digits and a share with tight gaps), and rows of 1-6 places one of
which is ink that is no digit, a quarter as many as numbers (LETTER_SHARE;
pair_reader.letter_numbers: negatives' letters, symbols, scribbles and
shapes, generated in code; a row of one place is such ink alone), labelled
core/ctc.py's MARK there. Each photographed row is made into its line
exactly as reading makes it. Training lines come from the digits of
reading_sets' "train" purpose (MNIST training digits before the
validation split), the lines it is tested on at the end of the run from its
"fit" purpose (the validation split): the test set is never used. Shards are
kept in --cache, so a run interrupted while writing keeps its finished shards;
it trains through digitnet's one loop (loop.train with LINE_READER_SPEC, a
ModelSpec outside the REGISTRY like the detector's), so its run folder
resumes like any run's.

    python -m digitnet.experiments.line_reader --jobs 2 --output-dir runs/line_reader_letters
"""
from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from digitnet.core.ctc import CLASSES, DIGIT_CLASSES, MAX_DIGITS, encode
from digitnet.core.errors import DataError
from digitnet.data.sources import DigitArrays
from digitnet.experiments.detector import run_parser
from digitnet.experiments.pair_reader import letter_numbers
from digitnet.experiments.piece_judge import Mix, cached, sharded_set, train_and_fit, written_numbers
from digitnet.models.registry import ModelSpec
from digitnet.serving import preprocess
from digitnet.serving.line import LINE_SHAPE, LINE_STEPS, line_input
from digitnet.serving.reading import grey_of

NAME = "line_reader"
EPOCHS, BATCH, LEARNING_RATE, SEED = 12, 64, 2e-3, 0
# Numbers written per purpose, in piece_judge's shards (piece_judge.written_numbers' seeds).
NUMBERS = {"train": 40000, "fit": 2000}
MIX = Mix(coarse=0.2, tight=0.2)
# Rows with ink that is no digit at one place, per number written (0: a reader of digits only, 11
# classes), and their places and seeds (the shard's added).
LETTER_SHARE, LETTER_LENGTHS, LETTER_SEEDS = 0.25, (1, 2, 3, 4, 5, 6), {"train": 9100, "fit": 9400}
LINE_KEYS = ("images", "labels")
TFLITE_FILE = "line_reader.tflite"  # written in the run folder
# The model: convolutions of WIDTHS channels (the blocks pool the 32 rows to 16, 8, 4 and 1; the first
# two halve the columns too), then STEPS steps of one column band each, read by two 1-D convolutions.
WIDTHS, STEPS, STEP_UNITS = (16, 32, 48, 64), LINE_STEPS, 128


def build_line_reader(widths: tuple[int, ...] = WIDTHS, units: int = STEP_UNITS, classes: int = CLASSES):
    """uint8-scaled [32, 256, 1] lines -> logits [STEPS, classes] (core/ctc.py's: the blank, the digits
    0-9, "not a digit"; 11 classes: digits only).
    Convolutions only (no recurrent layer), so that TFLite and LiteRT.js run it as they run the
    digit models."""
    import keras
    from keras import layers

    if len(widths) != 4 or min(widths) < 1:
        raise ValueError(f"widths are four positive channel counts, received {widths}")
    if classes not in (DIGIT_CLASSES, CLASSES):
        raise ValueError(f"classes is {DIGIT_CLASSES} (digits) or {CLASSES} (digits and not a digit), "
                         f"received {classes}")
    inputs = keras.Input((*LINE_SHAPE, 1), name="lines")
    x = inputs
    for index, (channels, pool) in enumerate(zip(widths, ((2, 2), (2, 2), (2, 1), (4, 1)))):
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"conv{index + 1}")(x)
        x = layers.BatchNormalization(name=f"norm{index + 1}")(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(pool, name=f"pool{index + 1}")(x)
    x = layers.Reshape((STEPS, widths[-1]), name="steps")(layers.Permute((2, 1, 3))(x))
    x = layers.Dropout(0.2)(x)
    for index in range(2):
        x = layers.Conv1D(units, 5, padding="same", activation="relu", name=f"step_conv{index + 1}")(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Conv1D(classes, 1, name="logits")(x)
    return keras.Model(inputs, outputs, name=NAME)


LINE_READER_SPEC = ModelSpec(
    build_line_reader, "sequence", EPOCHS, LEARNING_RATE, BATCH,
    "line reader: a number's row of ink (32x256) -> CTC logits over the blank, the ten digits and not a digit",
    warmup_epochs=1,
)


def lines_of(written: list) -> dict[str, np.ndarray]:
    """number_set's (photo, number, boxes) -> "images" uint8 [N, 32, 256] and "labels" int8
    [N, MAX_DIGITS] (core/ctc.py's encode) of the numbers whose photo holds a row of ink."""
    images, labels = [], []
    for photo, number, _ in written:
        try:
            images.append(line_input(preprocess.ink_image(grey_of(photo, "number"), "number"), "number"))
        except DataError:
            continue
        labels.append(encode(number))
    return {"images": np.stack(images) if images else np.zeros((0, *LINE_SHAPE), np.uint8),
            "labels": np.stack(labels) if labels else np.zeros((0, MAX_DIGITS), np.int8)}


def line_shard(purpose: str, shard: int, count: int, mix: Mix = MIX) -> dict[str, np.ndarray]:
    """The lines of piece_judge.written_numbers(purpose, shard, count, mix)."""
    return lines_of(written_numbers(purpose, shard, count, mix))


def shard_file(purpose: str, shard: int, count: int, mix: Mix) -> str:
    return f"lines_{purpose}_{shard}_{count}{mix.tag()}.npz"


def _cached_line_shard(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    purpose, shard, count, mix, cache_dir = job
    path = None if cache_dir is None else Path(cache_dir) / shard_file(purpose, shard, count, mix)
    found = cached(path, lambda: line_shard(purpose, shard, count, mix), LINE_KEYS)
    return found["images"], found["labels"]


def _cached_letter_shard(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    purpose, shard, count, _, cache_dir = job
    path = None if cache_dir is None else Path(cache_dir) / f"letter_lines_{purpose}_{shard}_{count}.npz"
    found = cached(path, lambda: lines_of(letter_numbers(purpose, shard, count, LETTER_SEEDS[purpose] + shard,
                                                         LETTER_LENGTHS)), LINE_KEYS)
    return found["images"], found["labels"]


def line_set(purpose: str, cache_dir: str | Path | None, count: int | None = None, jobs: int = 1,
             progress=None, mix: Mix = MIX, letter_share: float = LETTER_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """The lines of `count` numbers (default NUMBERS[purpose]) and of `letter_share` times as many rows
    with ink that is no digit, shard by shard in `jobs` processes."""
    count = count or NUMBERS[purpose]
    numbers = sharded_set(_cached_line_shard, purpose, cache_dir, count, jobs, progress, mix)
    letters = round(count * letter_share)
    if letters == 0:
        return numbers
    others = sharded_set(_cached_letter_shard, purpose, cache_dir, letters, jobs, progress, mix)
    return tuple(np.concatenate([a, b]) for a, b in zip(numbers, others))


def line_data(cache_dir: str | None, counts: dict[str, int] | None = None, jobs: int = 1, progress=None,
              mix: Mix = MIX, letter_share: float = LETTER_SHARE) -> DigitArrays:
    """Train split: the "train" purpose's lines; test split: the "fit" purpose's."""
    return train_and_fit(functools.partial(line_set, letter_share=letter_share), cache_dir, counts, jobs, progress,
                         mix, "number_synth lines")


def train_line_reader(output_dir: str | Path, cache_dir: str | None, seed: int = SEED, epochs: int = EPOCHS,
                      counts: dict | None = None, verbose: int = 1, fresh: bool = False, jobs: int = 1,
                      progress=None, mix: Mix = MIX, build: dict | None = None, letter_share: float = LETTER_SHARE):
    """Trains the line reader through the loop in `output_dir`, deterministically; returns (the
    loop's RunResult, the trained Keras model). `build`: build_line_reader's arguments (tests);
    `letter_share` 0: a reader of digits only (11 classes)."""
    import dataclasses

    import keras

    from digitnet.training.config import TrainConfig
    from digitnet.training.loop import train

    data = line_data(cache_dir, counts, jobs, progress, mix, letter_share)
    build = {"classes": CLASSES if letter_share else DIGIT_CLASSES, **(build or {})}
    spec = dataclasses.replace(LINE_READER_SPEC, builder=lambda: build_line_reader(**build))
    config = TrainConfig(arch=NAME, epochs=epochs, seed=seed, deterministic=True, output_dir=str(output_dir),
                         verbose=verbose, fresh=fresh)
    result = train(config, data=data, spec=spec)
    return result, keras.models.load_model(result.model_path, compile=False)


def save_tflite(model, path: str | Path) -> Path:
    """The line reader as a float32 TFLite file at `path` (batch 1; uint8 lines scaled to [0, 1] in,
    logits out), written atomically; serving/line.py reads it through LiteRT."""
    from digitnet.core.files import write_bytes
    from digitnet.models.tasks import SEQUENCE
    from digitnet.serving.tflite import tflite_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, tflite_bytes(model, "float32", task=SEQUENCE))
    return path


def main(argv: list[str] | None = None) -> int:
    from digitnet.models.tasks import SEQUENCE

    parser = run_parser("line_reader", __doc__, NAME, "runs/line_sets", "folder that keeps the generated lines", SEED,
                        EPOCHS, f"run folder; model.keras and {TFLITE_FILE} are written there")
    parser.add_argument("--numbers", type=int, default=NUMBERS["train"], help="training numbers written")
    parser.add_argument("--jobs", type=int, default=1, help="processes that write the numbers")
    parser.add_argument("--letter-share", type=float, default=LETTER_SHARE,
                        help="rows with ink that is no digit per number written (0: a reader of digits only)")
    args = parser.parse_args(argv)
    if args.numbers < 1:
        raise DataError(f"--numbers must be a positive whole number, received {args.numbers}")
    if not 0 <= args.letter_share <= 1:
        raise DataError(f"--letter-share must be between 0 and 1, received {args.letter_share}")
    started = time.perf_counter()

    def progress(purpose: str, done: int, total: int) -> None:
        print(f"\r{purpose}: lines written, shard {done}/{total} ({time.perf_counter() - started:.0f} s)",
              end="\n" if done == total else "", flush=True)

    result, model = train_line_reader(args.output_dir, args.cache, args.seed, args.epochs, {"train": args.numbers},
                                      fresh=args.fresh, jobs=args.jobs, progress=progress,
                                      letter_share=args.letter_share)
    images, labels = line_set("fit", args.cache, mix=MIX, letter_share=args.letter_share)
    logits = model.predict(images[..., None].astype(np.float32) / 255.0, verbose=0)
    whole = SEQUENCE.score(logits, images, labels)["whole_lines"]
    print(f"{result.headline}; {100 * whole:.2f} % of the {len(labels):,} validation lines read whole")
    path = save_tflite(model, Path(result.output_dir) / TFLITE_FILE)
    print(f"{path}: {path.stat().st_size:,} bytes, in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
