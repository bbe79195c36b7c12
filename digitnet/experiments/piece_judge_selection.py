"""The rule of reports/number_reading.md that chooses number reading's piece judge, as code.

Candidates (reading without a judge and piece judge files) read four sets of
numbers written from MNIST's validation digits (reading_sets' "fit"
purpose: never the test set) with the reference model:

- "4 digits": 120 numbers of 4 digits (number_synth seed 7001),
- "2-6 digits": 120 numbers of 2 to 6 digits (lengths and numbers seed 7002),
- "one digit": 120 single digits (seed 7003),
- "low resolution": 100 numbers of 4 coarse digits (data/coarse.py: 8x8
  cells, 17 levels, enlarged to 20x20), from 3,000 validation digits drawn
  with seed 5 (numbers seed 7201).

The score is the count read whole over the four sets. The highest wins; a
candidate within TIE of it wins when it is simpler: candidates are given
simplest first (no judge, then smaller training sets).

With --draw large the four sets are three times as large and drawn afresh
(seeds 7011, 7012, 7013 and 7211, the low-resolution pool with seed 15,
--letters with seed 7411 and --alone with seed 7511), and the tie is
LARGE_TIE (DRAWS).

    python -m digitnet.experiments.piece_judge_selection --judge none \\
        --judge digitnet/serving/piece_judge.npz --judge runs/other.npz --output scores.json

With --width-prior FREE,SLOPE, --cuts N, --seam FRACTION, --pair-reader
FILE, --pair-alone yes|no, --wide-alone WIDTH, --pair-veto yes|no or
--lone-pairs no|yes|sure (repeatable, the value as it is first; 'none': no
pair reader) the candidates are the segmenter's width priors, numbers of
candidate cuts per row height, bends of its cuts, pair readers, whether a
lone group may be read as a pair, how wide a lone group must be to be cut,
whether the pair reader's P(not a pair) multiplies the value of a piece it
reads, or whether lone groups are read as pairs and every pair only where
the pair reader finds it likelier than "not a pair" ('sure'), instead, each
read with the one --judge given (the rules of reports/number_reading.md's
later sections).

With --letters N a fifth set is read besides, not counted in the total: N
numbers of 2-3 places from the validation digits, one place a generated letter,
symbol, scribble or shape (pair_reader.letter_numbers, seed LETTERS_SEED). One
is read right when it is read as as many digits as it has places and its
digits are right, whatever digit the letter is read as (the "not a digit"
judge then sees the letter as one piece). The setting as it is stays unless a
candidate reads more than TIE more of them and keeps its total within TIE.
When segmenter settings other than pair readers are compared, or pair readers
with --by-total, the letters only guard the settings rule instead: a winner
that reads more than TIE fewer of them right gives way to the setting as it
is (choose_guarded).

With --alone N, N generated non-digits drawn alone on the page (the same
kinds, one to a page under the photo conditions, seed ALONE_SEED) guard
the settings rule too: one is kept whole when it is read as at most one
digit (the judge then sees it whole), and a winner that keeps more than TIE
fewer whole gives way. The counts file holds "letters" and "alone" (null
when not read).

With --photos N, N single validation digits photographed in pencil
(photo_synth's "pencil" case: thin grainy strokes that break apart, seed
Draw.photos_seed) are read besides and counted in the total: one is right when
it is read as its one digit. --strokes no|row|row+arcs compares how the
segmenter puts the strokes of one digit together: as it is, the row's height
set by the pieces at least SHORT of the tallest one (TALL_ROW), and that
with the arcs of a broken loop joined (ARCS).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from digitnet.core.errors import DataError
from digitnet.core.files import write_json
from digitnet.data.coarse import coarse
from digitnet.data.number_synth import number_set
from digitnet.data.photo_synth import photo_set
from digitnet.experiments.pair_reader import letter_numbers
from digitnet.experiments.piece_judge import NOT_A_DIGIT_MARK
from digitnet.experiments.reading_sets import split_digits
from digitnet.serving import preprocess
from digitnet.serving.reading import grey_of, pair_reader, predictor_of
from digitnet.serving.runtimes import default_model
from digitnet.serving.segment import find_digits, load_pair_reader, load_piece_judge

NO_JUDGE = "none"
TIE = 3  # numbers read whole
COUNTS = {"4 digits": 120, "2-6 digits": 120, "one digit": 120, "low resolution": 100}
LOW_RESOLUTION_POOL, POOL_SEED = 3000, 5
LETTERS, LETTERS_SEED = "letters", 7401
ALONE, ALONE_SEED = "alone", 7501
PHOTOS = "pencil photos"
SINGLES = "single photos"


@dataclasses.dataclass(frozen=True)
class Draw:
    """Which validation numbers a rule reads: each set's size (times COUNTS) and seed, the low-resolution
    pool's seed, the seeds of --letters and --alone, and the tie."""

    scale: int
    seeds: dict
    pool_seed: int
    letters_seed: int
    alone_seed: int
    tie: int | None  # None: TIE (read when the rule runs)
    photos_seed: int = 7601
    singles_seed: int | None = None  # the single photos' (line_selection's SINGLES guard), where the rule has it


LARGE_TIE = 5  # three times the numbers: the differences' spread grows about sqrt(3) times
DRAWS = {"small": Draw(1, {"4 digits": 7001, "2-6 digits": 7002, "one digit": 7003, "low resolution": 7201},
                       POOL_SEED, LETTERS_SEED, ALONE_SEED, None),
         "large": Draw(3, {"4 digits": 7011, "2-6 digits": 7012, "one digit": 7013, "low resolution": 7211},
                       15, 7411, 7511, LARGE_TIE, 7621),
         # Drawn for the line reader's rule (experiments/line_selection.py), after "large" had been looked at.
         "line": Draw(3, {"4 digits": 7031, "2-6 digits": 7032, "one digit": 7033, "low resolution": 7231},
                      35, 7431, 7531, LARGE_TIE, 7631),
         # Drawn for the line reader's second rule, after "line" had been looked at.
         "line2": Draw(3, {"4 digits": 7041, "2-6 digits": 7042, "one digit": 7043, "low resolution": 7241},
                       45, 7441, 7541, LARGE_TIE, 7641),
         # Drawn for the rule of the line reader that reads ink that is no digit, after "line2" had been looked at.
         "line3": Draw(3, {"4 digits": 7051, "2-6 digits": 7052, "one digit": 7053, "low resolution": 7251},
                       55, 7451, 7551, LARGE_TIE, 7651),
         # Drawn for the line reader's rule with single photos as a guard, after "line3" had been looked at.
         "line4": Draw(3, {"4 digits": 7061, "2-6 digits": 7062, "one digit": 7063, "low resolution": 7261},
                       65, 7461, 7561, LARGE_TIE, 7661, singles_seed=7761),
         # Drawn for the rule of the line reader's spelling, after "line4" had been looked at.
         "line5": Draw(3, {"4 digits": 7071, "2-6 digits": 7072, "one digit": 7073, "low resolution": 7271},
                       75, 7471, 7571, LARGE_TIE, 7671, singles_seed=7771),
         # Drawn after "line5" ended within its tie: ten times the small draw's numbers, the tie grown as their
         # spread (about sqrt(10) times the small draw's 3).
         "line6": Draw(10, {"4 digits": 7081, "2-6 digits": 7082, "one digit": 7083, "low resolution": 7281},
                       85, 7481, 7581, 9, 7681, singles_seed=7781)}


def validation_sets(counts: dict[str, int] | None = None,
                    draw: str = "small") -> dict[str, list[tuple[np.ndarray, str]]]:
    """set name -> [(ink image, true number)] of the rule's four sets (`counts` shortens them) in DRAWS[draw]."""
    drawn = DRAWS[draw]
    full = {name: drawn.scale * count for name, count in COUNTS.items()}
    counts = {**full, **(counts or {})}
    digits, labels = split_digits("fit")
    pool = np.random.default_rng(drawn.pool_seed).choice(len(labels), LOW_RESOLUTION_POOL, replace=False)
    seeds = drawn.seeds
    lengths = np.random.default_rng(seeds["2-6 digits"]).integers(2, 7, full["2-6 digits"])[:counts["2-6 digits"]]
    written = {
        "4 digits": number_set(digits, labels, [4] * counts["4 digits"], seeds["4 digits"]),
        "2-6 digits": number_set(digits, labels, lengths, seeds["2-6 digits"]),
        "one digit": number_set(digits, labels, [1] * counts["one digit"], seeds["one digit"]),
        "low resolution": number_set(coarse(digits[pool]), labels[pool], [4] * counts["low resolution"],
                                     seeds["low resolution"]),
    }
    return {name: [(preprocess.ink_image(grey_of(photo, name), name), number) for photo, number, _ in numbers]
            for name, numbers in written.items()}


def letter_set(count: int, draw: str = "small") -> list[tuple[np.ndarray, str]]:
    """[(ink image, number with "?" where the letter is)] of --letters."""
    return [(preprocess.ink_image(grey_of(photo, LETTERS), LETTERS), number)
            for photo, number, _ in letter_numbers("fit", 0, count, seed=DRAWS[draw].letters_seed)]


def alone_set(count: int, draw: str = "small") -> list[tuple[np.ndarray, str]]:
    """[(ink image, "?")] of --alone: generated non-digits drawn alone."""
    return [(preprocess.ink_image(grey_of(photo, ALONE), ALONE), number)
            for photo, number, _ in letter_numbers("fit", 0, count, seed=DRAWS[draw].alone_seed, lengths=(1,))]


def photographed(count: int, seed: int, cases, name: str) -> list[tuple[np.ndarray, str]]:
    """[(ink image, its digit)]: `count` validation digits chosen with `seed`, photographed one to a photo
    with photo_synth's `cases` (None: its random mix of hard cases)."""
    digits, labels = split_digits("fit")
    chosen = np.random.default_rng(seed).choice(len(labels), count, replace=False)
    return [(preprocess.ink_image(grey_of(photo, name), name), str(labels[index]))
            for photo, index in zip(photo_set(digits[chosen], cases, seed=seed), chosen)]


def photo_set_of(count: int, draw: str = "small") -> list[tuple[np.ndarray, str]]:
    """--photos: validation digits photographed in pencil, one to a photo (photographed)."""
    return photographed(count, DRAWS[draw].photos_seed, ("pencil",), PHOTOS)


def single_photo_set(count: int, draw: str) -> list[tuple[np.ndarray, str]]:
    """line_selection's SINGLES guard: validation digits photographed one to a photo with photo_synth's
    random mix of hard cases (benchmarks/photo_accuracy.py's "mix"), with the draw's singles_seed."""
    seed = DRAWS[draw].singles_seed
    if seed is None:
        raise ValueError(f"draw {draw!r} has no single photos (singles_seed)")
    return photographed(count, seed, None, SINGLES)


def kept_whole(read: str, number: str) -> bool:
    """--alone: a non-digit alone is kept whole when it is read as at most one digit."""
    return len(read) <= 1


def read_right(read: str, number: str) -> bool:
    """A reading is right when it has the number's places and its digits; NOT_A_DIGIT_MARK takes any digit."""
    return len(read) == len(number) and all(want in (NOT_A_DIGIT_MARK, got) for got, want in zip(read, number))


def read_number(ink: np.ndarray, classify, one_digit, **settings) -> str:
    """The number read from an ink image ('' when no digit is found); `settings`: the segmenter's
    (width_prior, cuts, seam, read_pair, pair_alone, wide_alone, pair_veto, pair_sure, arcs, tall_row) where
    they differ from segment's."""
    try:
        return "".join(str(int(np.argmax(d.probabilities)))
                       for d in find_digits(ink, "number", classify, one_digit, **settings))
    except DataError:
        return ""


def whole_counts(sets, classify, one_digit, progress=None, **settings) -> dict[str, int]:
    """set name -> numbers read whole with this judge (None: without one); the shipped pair reader
    reads pairs unless `settings` give read_pair."""
    settings.setdefault("read_pair", pair_reader())
    found = {}
    for name, numbers in sets.items():
        scored = kept_whole if name == ALONE else read_right
        found[name] = sum(scored(read_number(ink, classify, one_digit, **settings), number) for ink, number in numbers)
        if progress is not None:
            progress(name, found[name], len(numbers))
    return found


def choose(totals: dict[str, int], settings: bool = False, tie: int | None = None) -> str:
    """The rule for judges: the highest total wins, unless a simpler candidate (earlier in `totals`) is
    within `tie` (None: TIE). For segmenter settings (`settings`): the highest wins, unless the first,
    the setting as it is, is within `tie` of it."""
    tie = TIE if tie is None else tie
    best = max(totals.values())
    first = next(iter(totals))
    if settings:
        return first if totals[first] >= best - tie else max(totals, key=totals.get)
    return next(name for name, total in totals.items() if total >= best - tie)


def choose_with_letters(totals: dict[str, int], letters: dict[str, int], tie: int | None = None) -> str:
    """--letters with judges or pair readers: the first candidate (the one as it is) stays unless another
    reads more than `tie` (None: TIE) more letter numbers right and keeps its total within `tie` of the
    first's; of those, the most letters wins."""
    tie = TIE if tie is None else tie
    first = next(iter(totals))
    better = [c for c in totals if letters[c] > letters[first] + tie and totals[c] >= totals[first] - tie]
    return max(better, key=lambda c: (letters[c], totals[c])) if better else first


def choose_guarded(totals: dict[str, int], *guards: dict[str, int], tie: int | None = None) -> str:
    """--letters or --alone with segmenter settings other than pair readers: the settings rule on the
    totals, but a winner that scores more than `tie` (None: TIE) less than the setting as it is on any
    guard (letter numbers read right, non-digits alone kept whole) gives way to it."""
    tie = TIE if tie is None else tie
    first, chosen = next(iter(totals)), choose(totals, settings=True, tie=tie)
    return first if any(guard[chosen] < guard[first] - tie for guard in guards) else chosen


def decide(totals: dict[str, int], letters: dict[str, int] | None, alone: dict[str, int] | None,
           settings: bool, pair_readers: bool, tie: int) -> tuple[str, str]:
    """(the candidate chosen, the rule in words): with letter numbers, judges and pair readers are chosen
    by them (choose_with_letters); other settings are chosen on the total, the letter numbers and the
    non-digits alone guarding (choose_guarded); without either, choose."""
    if letters and (pair_readers or not settings):
        return (choose_with_letters(totals, letters, tie),
                f"the one as it is stays unless another reads over {tie} more letter numbers, its total within {tie}")
    guards = {name: guard for name, guard in ((LETTERS, letters), (ALONE, alone)) if guard}
    if guards:
        return (choose_guarded(totals, *guards.values(), tie=tie),
                f"tie within {tie} goes to the setting as it is; a winner scoring over {tie} less on "
                + " or ".join(guards) + " gives way")
    return (choose(totals, settings=settings, tie=tie),
            f"tie within {tie} goes to {'the setting as it is' if settings else 'the simpler'}")


def judge_of(candidate: str):
    if candidate == NO_JUDGE:
        return None
    judge = load_piece_judge(candidate)
    if judge is None:
        raise DataError(f"no piece judge file at {candidate} (give '{NO_JUDGE}' to read without one)")
    return judge


def pair_reader_of(candidate: str):
    """--pair-reader FILE: None for 'none', else the pair reader (DataError naming the file)."""
    if candidate == NO_JUDGE:
        return None
    try:
        return load_pair_reader(candidate)
    except (OSError, ValueError) as error:
        raise DataError(f"--pair-reader {candidate}: not a pair reader file ({error})") from None


def yes_no(value: str) -> bool:
    """--pair-alone yes|no."""
    if value not in ("yes", "no"):
        raise argparse.ArgumentTypeError(f"takes yes or no, received {value!r}")
    return value == "yes"


LONE_PAIRS = {"no": {"pair_alone": False}, "yes": {"pair_alone": True},
              "sure": {"pair_alone": True, "pair_sure": True}}  # --lone-pairs: the segmenter's settings


STROKES = {"no": {"tall_row": False, "arcs": False}, "row": {"tall_row": True, "arcs": False},
           "row+arcs": {"tall_row": True, "arcs": True}}  # --strokes: the segmenter's settings
NAMED_SETTINGS = {"lone_pairs": LONE_PAIRS, "strokes": STROKES}  # flags whose values name a few settings at once


def one_of(table: dict):
    """The argparse type of a flag whose values are `table`'s names (--lone-pairs, --strokes)."""
    def name(value: str) -> str:
        if value not in table:
            raise argparse.ArgumentTypeError(f"takes {', '.join(table)}, received {value!r}")
        return value
    return name


def positive_count(value: str) -> int:
    """--cuts N: a whole number from 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number from 1, received {value!r}")
    return int(value)


def positive_number(value: str) -> float:
    """--wide-alone WIDTH: a number above 0."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number above 0, received {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"takes a number above 0, received {value!r}")
    return number


def seam(value: str) -> float:
    """--seam FRACTION: a number from 0 to 1."""
    try:
        fraction = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number from 0 to 1, received {value!r}") from None
    if not 0 <= fraction <= 1:
        raise argparse.ArgumentTypeError(f"takes a number from 0 to 1, received {value!r}")
    return fraction


def width_prior(value: str) -> tuple[float, float]:
    """--width-prior FREE,SLOPE: two positive numbers."""
    try:
        free, slope = (float(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes two numbers, FREE,SLOPE, received {value!r}") from None
    if free <= 0 or slope < 0:
        raise argparse.ArgumentTypeError(f"takes FREE > 0 and SLOPE >= 0, received {value!r}")
    return free, slope


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digitnet.experiments.piece_judge_selection", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", action="append", required=True,
                        help=f"a candidate, simplest first: '{NO_JUDGE}' or a piece judge .npz (repeatable)")
    parser.add_argument("--width-prior", action="append", type=width_prior, metavar="FREE,SLOPE",
                        help="a width prior to compare, the prior as it is first (repeatable; one --judge)")
    parser.add_argument("--cuts", action="append", type=positive_count, metavar="N",
                        help="candidate cuts per row height to compare, the number as it is first "
                             "(repeatable; one --judge)")
    parser.add_argument("--seam", action="append", type=seam, metavar="FRACTION",
                        help="how far cuts may bend, in row heights, to compare, the value as it is first "
                             "(repeatable; one --judge)")
    parser.add_argument("--pair-reader", action="append", metavar="FILE",
                        help=f"a pair reader to compare ('{NO_JUDGE}': none), the setting as it is first "
                             "(repeatable; one --judge)")
    parser.add_argument("--pair-alone", action="append", type=yes_no, metavar="yes|no",
                        help="whether a lone group may be read as a pair, the setting as it is first "
                             "(repeatable; one --judge)")
    parser.add_argument("--wide-alone", action="append", type=positive_number, metavar="WIDTH",
                        help="how wide (in row heights) a group alone on the page must be to be cut, to compare, "
                             "the value as it is first (repeatable; one --judge)")
    parser.add_argument("--pair-veto", action="append", type=yes_no, metavar="yes|no",
                        help="whether a piece the pair reader reads is worth one digit only times its P(not a pair), "
                             "the setting as it is first (repeatable; one --judge)")
    parser.add_argument("--lone-pairs", action="append", type=one_of(LONE_PAIRS), metavar="no|yes|sure",
                        help="whether a lone group may be read as a pair ('sure': only where the pair reader finds its "
                             "likeliest pair likelier than 'not a pair', for every pair), the setting as it is first "
                             "(repeatable; one --judge)")
    parser.add_argument("--strokes", action="append", type=one_of(STROKES), metavar="no|row|row+arcs",
                        help="how one digit's strokes are put together: as it is ('no'), the row's height from the "
                             "pieces at least half the tallest ('row'), and with a broken loop's arcs joined "
                             "('row+arcs'), the setting as it is first (repeatable; one --judge)")
    parser.add_argument("--photos", type=int, default=0, metavar="N",
                        help="also read N validation digits photographed in pencil, counted in the total")
    parser.add_argument("--letters", type=int, default=0, metavar="N",
                        help="also read N numbers with a generated letter among their digits (the rule above)")
    parser.add_argument("--alone", type=int, default=0, metavar="N",
                        help="also read N generated non-digits drawn alone, a guard on settings (the rule above)")
    parser.add_argument("--by-total", action="store_true",
                        help="pair readers chosen as settings are: on the total, --letters and --alone guarding "
                             "(else by the letter numbers)")
    parser.add_argument("--draw", choices=sorted(DRAWS), default="small",
                        help="the validation numbers read: 'small' (the sets above) or 'large' (three times as many, "
                             "drawn afresh, tie LARGE_TIE)")
    parser.add_argument("--model", default=None, help="the reading model (default: the reference model)")
    parser.add_argument("--output", help="a JSON file for the counts and the choice")
    args = parser.parse_args(argv)
    judges = {candidate: judge_of(candidate) for candidate in args.judge}  # every file checked before reading
    settings = {}  # candidate -> its segmenter settings, when settings are compared
    compared = [flag for flag in ("width_prior", "cuts", "seam", "pair_reader", "pair_alone", "wide_alone", "pair_veto",
                                  "lone_pairs", "strokes")
                if getattr(args, flag)]
    if len(compared) > 1:
        parser.error("compare one of --width-prior, --cuts, --seam, --pair-reader, --pair-alone, --wide-alone, "
                     "--pair-veto, --lone-pairs and --strokes at a time, "
                     "received "
                     + " and ".join("--" + flag.replace("_", "-") for flag in compared))
    if compared:
        if len(judges) != 1:
            parser.error(f"--{compared[0].replace('_', '-')} compares settings with one --judge, "
                         f"received {len(judges)}")
        (judge,) = judges.values()
        named = {"width_prior": lambda v: f"width prior {v[0]:g},{v[1]:g}", "cuts": lambda v: f"cuts {v}",
                 "seam": lambda v: f"seam {v:g}", "pair_reader": lambda v: f"pair reader {v}",
                 "pair_alone": lambda v: f"lone pairs {'yes' if v else 'no'}",
                 "wide_alone": lambda v: f"wide alone {v:g}",
                 "pair_veto": lambda v: f"pair veto {'yes' if v else 'no'}",
                 "lone_pairs": lambda v: f"lone pairs {v}", "strokes": lambda v: f"strokes {v}"}[compared[0]]
        if compared[0] == "pair_reader":
            settings = {named(value): {"read_pair": pair_reader_of(value)} for value in args.pair_reader}
        elif compared[0] in NAMED_SETTINGS:
            settings = {named(value): NAMED_SETTINGS[compared[0]][value] for value in getattr(args, compared[0])}
        else:
            settings = {named(value): {compared[0]: value} for value in getattr(args, compared[0])}
        judges = dict.fromkeys(settings, judge)
    for flag in ("letters", "alone", "photos"):
        if getattr(args, flag) < 0:
            parser.error(f"--{flag} takes a whole number from 0, received {getattr(args, flag)}")
    if args.by_total and compared != ["pair_reader"]:
        parser.error("--by-total chooses among pair readers; received no --pair-reader")
    if args.alone and (not settings or (compared == ["pair_reader"] and not args.by_total)):
        parser.error("--alone guards segmenter settings, and pair readers with --by-total; received "
                     + ("--pair-reader" if compared else f"{len(args.judge)} --judge and no setting"))
    if args.model is None:  # recorded as the file it is, relative to here when it lies below
        found = Path(default_model()[0]).resolve()
        args.model = str(found.relative_to(Path.cwd().resolve())) if found.is_relative_to(Path.cwd().resolve()) \
            else str(found)
    classify = predictor_of(args.model)
    started = time.perf_counter()
    tie = TIE if DRAWS[args.draw].tie is None else DRAWS[args.draw].tie
    sets = validation_sets(draw=args.draw)
    if args.letters:
        sets[LETTERS] = letter_set(args.letters, args.draw)
    if args.alone:
        sets[ALONE] = alone_set(args.alone, args.draw)
    if args.photos:
        sets[PHOTOS] = photo_set_of(args.photos, args.draw)
    counts = {}
    for candidate, judge in judges.items():
        def progress(name, whole, total, candidate=candidate):
            print(f"{candidate}: {name} {whole}/{total} whole ({time.perf_counter() - started:.0f} s)", flush=True)
        counts[candidate] = whole_counts(sets, classify, judge, progress, **settings.get(candidate, {}))
    scored = [*COUNTS, *([PHOTOS] if args.photos else [])]
    totals = {candidate: sum(found[name] for name in scored) for candidate, found in counts.items()}
    letters = {candidate: found[LETTERS] for candidate, found in counts.items()} if args.letters else None
    alone = {candidate: found[ALONE] for candidate, found in counts.items()} if args.alone else None
    chosen, rule = decide(totals, letters, alone, bool(settings), compared == ["pair_reader"] and not args.by_total, tie)
    extra = {name: count for name, count in ((LETTERS, args.letters), (ALONE, args.alone)) if count}
    print(f"\n| {'setting' if settings else 'judge'} | " + " | ".join(COUNTS)
          + (f" | {PHOTOS} (of {args.photos})" if args.photos else "") + " | total |"
          + "".join(f" {name} (of {count}) |" for name, count in extra.items()))
    print("|---" * (len(scored) + 2 + len(extra)) + "|")
    for candidate, found in counts.items():
        print(f"| {candidate} | " + " | ".join(str(found[name]) for name in scored) + f" | {totals[candidate]} |"
              + "".join(f" {found[name]} |" for name in extra))
    print(f"\nchosen by the rule ({rule}): {chosen}")
    if args.output:
        write_json(Path(args.output), {"sets": {name: len(sets[name]) for name in scored} | extra,
                                        "draw": args.draw,
                                        "candidates": list(counts), "counts": counts, "totals": totals,
                                        "letters": letters, "alone": alone,
                                        "chosen": chosen, "rule": rule, "model": args.model, "tie": tie})
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
