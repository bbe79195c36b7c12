"""How often a reading says "not a digit": on generated non-digits, and (wrongly) on digits.

    python benchmarks/not_a_digit.py --select     # choose the threshold and floors (rules 3-4 of reports/not_a_digit.md)
    python benchmarks/not_a_digit.py              # measure with judge.json as it is

The judge (digitnet/serving/judge.py: the detector, the model's temperature
and confidence floor, from the newest saved_models/not_a_digit/<version>/,
or --judge) answers the
prepared 28x28 inputs of experiments/reading_sets.py. --select chooses on the
"fit" sets only (the validation split and negatives of their own seeds) and
writes judge.json; every run then measures on the "measure" sets (MNIST test
digits clean, photographed and restyled; negatives of other seeds, drawn and
photographed, per kind) and on held-back digits: UCI's writers and, when
digitnet/data/other_styles.py is there, its pen-trajectory digits. A picture
in which preprocessing finds no digit counts as refused. Needs the temperatures
(benchmarks/calibration.py --fit) and detector.npz
(python -m digitnet.experiments.detector) in the judge's folder.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from calibration import MODELS, answers, held_back_sets, model_name
from common import print_table, write_results

from digitnet.experiments.reading_sets import LabelledSet, cached_sets
from digitnet.serving.judge import Detector, default_judge_folder, load_judge

DIGIT_SETS = ("clean", "photos", "styles")
TARGETS = {"clean": 0.005, "photos": 0.01, "negatives": 0.95, "negative_photos": 0.95}


def select(judge_folder: str, cache: str) -> None:
    """Rules 3 and 4 on the fit sets; writes the threshold and each model's floor."""
    from digitnet.experiments.judge_selection import choose_floor, choose_threshold, write_judge

    sets = cached_sets("fit", cache)
    detector = Detector.load(Path(judge_folder) / "detector.npz")
    scores = {name: detector(s.images) for name, s in sets.items()}
    unread = {name: s.unread for name, s in sets.items()}
    threshold = choose_threshold(scores, unread)
    write_judge(judge_folder, threshold=threshold)
    print(f"detector threshold: {threshold}")
    for model in MODELS:
        judge = load_judge(model, judge_folder)
        probabilities = answers(model, {n: sets[n] for n in ("clean", "photos")})
        confidences = {n: judge.model.calibration(p).max(axis=1) for n, p in probabilities.items()}
        floor = choose_floor(scores, confidences, unread, threshold)
        settings = judge.model.__class__(judge.model.name, judge.model.calibration, floor)
        from digitnet.serving.judge import fingerprint

        write_judge(judge_folder, models={fingerprint(model): settings})
        print(f"{model_name(model)}: confidence floor {floor}")


def rate(refused: np.ndarray, unread: int) -> float:
    return (int(np.sum(refused)) + unread) / (len(refused) + unread)


def measure(model: str, judge_folder: str, sets: dict[str, LabelledSet]) -> dict:
    """Refusal rates per set (and per kind of negative) for one model."""
    judge = load_judge(model, judge_folder)
    probabilities = answers(model, sets)
    record = {"temperature": judge.model.calibration.temperature, "confidence_floor": judge.model.confidence_floor,
              "threshold": judge.threshold, "sets": {}}
    for name, s in sets.items():
        if name not in probabilities:
            continue
        refused = judge.refused(s.images, probabilities[name])
        by_detector = judge.detector(s.images) >= judge.threshold
        entry = {"n": len(refused) + s.unread, "unread": s.unread, "refused": rate(refused, s.unread),
                 "refused_by_detector_alone": rate(by_detector, s.unread)}
        if s.kinds is not None:
            entry["per_kind"] = {str(kind): float(np.mean(refused[s.kinds == kind])) for kind in np.unique(s.kinds)}
        record["sets"][name] = entry
    return record


def example_figure(model: str, judge_folder: str, sets: dict[str, LabelledSet], path: str) -> str:
    """The first negatives of each kind with what the reading says of them."""
    from digitnet.core.figures import plot_digit_grid

    judge, negatives = load_judge(model, judge_folder), sets["negatives"]
    chosen = np.concatenate([np.flatnonzero(negatives.kinds == kind)[:10] for kind in np.unique(negatives.kinds)])
    verdicts = judge.judge(negatives.images[chosen], answers(model, {"n": LabelledSet(negatives.images[chosen],
                                                                                      negatives.labels[chosen])})["n"])
    captions = ["not a digit" if v.digit is None else f"{v.digit} ({v.confidence:.2f})" for v in verdicts]
    return plot_digit_grid(negatives.images[chosen] / 255.0, captions, path, f"{model_name(model)}: generated non-digits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model paths")
    parser.add_argument("--select", action="store_true", help="choose the threshold and floors first")
    parser.add_argument("--judge", default=str(default_judge_folder()),
                        help="folder of judge.json and detector.npz (default: the newest version)")
    parser.add_argument("--cache", default="runs/reading_sets", help="folder that keeps the generated sets")
    parser.add_argument("--figures", default="reports/figures")
    parser.add_argument("--output", default="not_a_digit", help="name of the JSON file in benchmarks/results")
    args = parser.parse_args()
    if args.select:
        select(args.judge, args.cache)
    sets = {**cached_sets("measure", args.cache), **held_back_sets()}
    results, rows = {}, []
    for model in args.models.split(","):
        record = measure(model, args.judge, sets)
        results[model_name(model)] = record
        for name, entry in record["sets"].items():
            target = TARGETS.get(name)
            rows.append([model_name(model), name, entry["n"], f"{100 * entry['refused']:.2f} %",
                         f"{100 * entry['refused_by_detector_alone']:.2f} %",
                         "" if target is None else (f">= {100 * target:.0f} %" if target > 0.5 else f"<= {100 * target:.1f} %")])
    print_table("Answered 'not a digit' (measure sets; unread pictures count as refused)",
                ["model", "set", "n", "refused", "by the detector alone", "target"], rows)
    for model in args.models.split(","):
        for name in ("negatives", "negative_photos"):
            kinds = results[model_name(model)]["sets"][name]["per_kind"]
            print(f"{model_name(model)} {name}: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in kinds.items()))
    stem = model_name(MODELS[-1]).replace("/", "_").replace(".tflite", "")
    figure = example_figure(MODELS[-1], args.judge, sets, str(Path(args.figures) / f"not_a_digit_{stem}.png"))
    write_results(args.output, {"models": results, "figure": figure})


if __name__ == "__main__":
    main()
