"""The rules of reports/number_reading.md ("The line reader's count" and "The line reader's count
in numbers") that choose whether and how number reading uses the line reader's count, as code.

Candidates, simplest first:

- "segmenter": the shipped reading (segment.find_digits with the shipped piece judge and pair
  reader; the line reader unused),
- "count": where the line reader's best path reads K >= 1 digits and the segmenter's reading has
  another count, the segmenter's best reading of exactly K digits (serving/line.py's recount),
- "likelier": the same, kept only where the line reader finds the new reading likelier than the
  first (its CTC probability),
- "likelier-2": "likelier" only where the segmenter reads two or more digits,
- "spelled": "likelier", then, where the line reader's best path reads digits only and another
  number, the segmenter's best reading of that number, kept where the line reader finds it likelier.

Each rule has its draw, its candidates and its choice (RULES): "line" compares the first three,
"line2" (drawn after "line" had been looked at) the segmenter and "likelier-2", "line3" (drawn after
"line2", read with a line reader that reads ink that is no digit) the segmenter, "likelier" and
"likelier-2", "line4" (drawn after "line3") the same three with single photos as a third guard, and
"line5" (drawn after "line4") the shipped "likelier" and "spelled", with the same three guards, and
"line6" the same two on a draw of ten times the small draw's numbers (after "line5" ended in a tie).
A draw holds the piece judge rule's four sets (piece_judge_selection.DRAWS: validation digits only,
three times the small draw's sizes) and PENCIL_PHOTOS single validation digits
photographed in pencil (strokes that break apart: one digit must stay one), read with the reference
model; the score is the count read whole over the five sets. Letter numbers and non-digits alone
(--letters, --alone) guard it. In "line" and "line2" they guard as they guard the segmenter's
settings (choose_guarded): the highest total wins unless the segmenter's reading is within the
draw's tie, and a winner that reads more than the tie fewer letter numbers right or non-digits kept
whole gives way to it. In "line3" a candidate that reads more than the tie fewer on a guard is left
out first, and the highest total of the rest wins, the segmenter within the tie
(choose_among_guarded); "line4" chooses so with a third guard, SINGLES single validation digits
photographed with photo_synth's random mix of hard cases, read right, and "line5" so with "likelier"
in the segmenter's place, as does "line6".

    python -m digitnet.experiments.line_selection --draw line --line-reader runs/line_reader/line_reader.tflite \\
        --jobs 2 --output reports/line_selection.json
    python -m digitnet.experiments.line_selection --draw line2 --line-reader runs/line_reader/line_reader.tflite \\
        --jobs 2 --output reports/line_selection_numbers.json
    python -m digitnet.experiments.line_selection --draw line3 \\
        --line-reader runs/line_reader_letters/line_reader.tflite --jobs 2 --output reports/line_selection_letters.json
    python -m digitnet.experiments.line_selection --draw line4 \\
        --line-reader digitnet/serving/line_reader.tflite --jobs 2 --output reports/line_selection_singles.json
    python -m digitnet.experiments.line_selection --draw line5 \\
        --line-reader digitnet/serving/line_reader.tflite --jobs 2 --output reports/line_selection_spelled.json
    python -m digitnet.experiments.line_selection --draw line6 \\
        --line-reader digitnet/serving/line_reader.tflite --jobs 2 --output reports/line_selection_spelled_large.json
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitnet.core.errors import DataError
from digitnet.core.files import write_json
from digitnet.experiments.piece_judge_selection import (ALONE, DRAWS, LETTERS, PHOTOS, SINGLES, alone_set,
                                                        choose_guarded, kept_whole, letter_set, photo_set_of,
                                                        read_right, single_photo_set, validation_sets)
from digitnet.serving.line import RECOUNT_RULES, line_input, number_of, recount
from digitnet.serving.reading import pair_reader, predictor_of
from digitnet.serving.runtimes import default_model, load_predictor
from digitnet.serving.segment import Segmenter, load_piece_judge

SEGMENTER = "segmenter"
CANDIDATES = (SEGMENTER, *RECOUNT_RULES)
GUARDS = {LETTERS: 600, ALONE: 900, SINGLES: 3000}  # each guard's size (SINGLES: only in the rules that name it)
PENCIL_PHOTOS = 1500  # single validation digits photographed in pencil, counted in the total


def readings(ink: np.ndarray, classify, judge, read_pair, read_line) -> dict[str, str]:
    """candidate -> the number it reads from `ink` ('' where no digit is found)."""
    segmenter = Segmenter(ink, "number", classify, judge, read_pair=read_pair)  # as reading.read reads
    try:
        digits = segmenter.find()
    except DataError:
        return {candidate: "" for candidate in CANDIDATES}
    try:
        logits = read_line(line_input(ink, "number")[None])[0]
    except DataError:
        logits = None
    found = {SEGMENTER: number_of(digits)}
    for rule in RECOUNT_RULES:
        found[rule] = found[SEGMENTER] if logits is None else number_of(recount(digits, logits, segmenter.find, rule))
    return found


def choose_among_guarded(totals: dict[str, int], *guards: dict[str, int], tie: int) -> str:
    """"line3"'s to "line6"'s choice: the candidates that read no more than `tie` fewer than the first
    (the segmenter; in "line5" and "line6" the shipped "likelier") on any guard; of those, the highest
    total, the first staying within `tie` of it."""
    first = next(iter(totals))
    kept = [c for c in totals if all(guard[c] >= guard[first] - tie for guard in guards)]
    best = max(kept, key=lambda c: (totals[c], c == first))
    return first if totals[best] - totals[first] <= tie else best


@dataclasses.dataclass(frozen=True)
class Rule:
    candidates: tuple[str, ...]  # first the one the others are measured against (the segmenter or the shipped rule)
    choose: Callable[..., str]  # (totals, *the guards' scores, tie=) -> the candidate chosen
    words: str  # the choice, said in reports/*.json
    guards: tuple[str, ...] = (LETTERS, ALONE)  # GUARDS' sets read besides, in the order `choose` takes them


GUARDED = ("highest total; a tie within {tie} goes to 'segmenter'; a winner scoring over {tie} less on letters or "
           "alone gives way to 'segmenter'")
SPELLED = ("candidates scoring over {tie} less than 'likelier' on letters, alone or single photos are left out; of "
           "the rest, the highest total, a tie within {tie} going to 'likelier'")
# draw -> its rule; "line3" to "line6" are read with a line reader of 12 classes (it reads ink that is no digit).
RULES = {"line": Rule((SEGMENTER, "count", "likelier"), choose_guarded, GUARDED),
         "line2": Rule((SEGMENTER, "likelier-2"), choose_guarded, GUARDED),
         "line3": Rule((SEGMENTER, "likelier", "likelier-2"), choose_among_guarded,
                       "candidates scoring over {tie} less than 'segmenter' on letters or alone are left out; of the "
                       "rest, the highest total, a tie within {tie} going to 'segmenter'"),
         "line4": Rule((SEGMENTER, "likelier", "likelier-2"), choose_among_guarded,
                       "candidates scoring over {tie} less than 'segmenter' on letters, alone or single photos are "
                       "left out; of the rest, the highest total, a tie within {tie} going to 'segmenter'",
                       (LETTERS, ALONE, SINGLES)),
         "line5": Rule(("likelier", "spelled"), choose_among_guarded, SPELLED, (LETTERS, ALONE, SINGLES)),
         "line6": Rule(("likelier", "spelled"), choose_among_guarded, SPELLED, (LETTERS, ALONE, SINGLES))}


_READERS: tuple = ()  # (classify, judge, read_pair, read_line) of this process


def _load_readers(model: str, line_reader: str) -> None:
    global _READERS
    _READERS = (predictor_of(model), load_piece_judge(), pair_reader(), load_predictor(line_reader))


def _readings_of(ink: np.ndarray) -> dict[str, str]:
    return readings(ink, *_READERS)


def all_readings(inks: list[np.ndarray], model: str, line_reader: str, jobs: int = 1) -> list[dict[str, str]]:
    """readings() of each ink, in `jobs` processes (spawned) when there are several."""
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(jobs, _load_readers, (model, line_reader)) as pool:
            return list(pool.imap(_readings_of, inks, chunksize=4))
    _load_readers(model, line_reader)
    return [_readings_of(ink) for ink in inks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digitnet.experiments.line_selection", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--line-reader", required=True, help="the line reader's .tflite file")
    parser.add_argument("--draw", choices=sorted(RULES), required=True, help="the rule's draw (RULES)")
    parser.add_argument("--model", help="the digit classifier (default: the reference model predict uses)")
    parser.add_argument("--output", help="a JSON file for the counts and the choice")
    parser.add_argument("--jobs", type=int, default=1, help="processes that read the numbers")
    parser.add_argument("--limit", type=int, help="read only this many numbers of each set (a quick look; "
                                                  "no choice is made)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = str(args.model or default_model()[0])
    limit = dict.fromkeys(("4 digits", "2-6 digits", "one digit", "low resolution"), args.limit) if args.limit else None
    draw, rule = args.draw, RULES[args.draw]
    candidates = rule.candidates
    sets = validation_sets(limit, draw=draw)
    sets[PHOTOS] = photo_set_of(args.limit or PENCIL_PHOTOS, draw)
    guard_sets = {LETTERS: letter_set, ALONE: alone_set, SINGLES: single_photo_set}
    guards = {name: guard_sets[name](args.limit or GUARDS[name], draw) for name in rule.guards}
    _load_readers(model, args.line_reader)  # a file that does not load is one error here, not in every worker
    print(f"sets drawn ({time.perf_counter() - started:.0f} s)", flush=True)
    scores = {}
    for name, numbers in {**sets, **guards}.items():
        scored = kept_whole if name == ALONE else read_right
        found = all_readings([ink for ink, _ in numbers], model, args.line_reader, args.jobs)
        scores[name] = {c: sum(scored(read[c], number) for read, (_, number) in zip(found, numbers)) for c in candidates}
        print(f"{name} ({len(numbers)}): " + ", ".join(f"{c} {n}" for c, n in scores[name].items())
              + f" ({time.perf_counter() - started:.0f} s)", flush=True)
    totals = {candidate: sum(scores[name][candidate] for name in sets) for candidate in candidates}
    tie = DRAWS[draw].tie
    chosen = None if args.limit else rule.choose(totals, *(scores[name] for name in rule.guards), tie=tie)
    print("totals: " + ", ".join(f"{c} {n}" for c, n in totals.items())
          + (f"; chosen: {chosen}" if chosen else " (--limit: no choice)"))
    if args.output:
        write_json(Path(args.output), {
            "sets": {name: len(numbers) for name, numbers in {**sets, **guards}.items()},
            "draw": draw, "model": str(model), "line_reader": args.line_reader, "scores": scores,
            "totals": totals, "tie": tie, "chosen": chosen,
            "rule": rule.words.format(tie=tie)})
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
