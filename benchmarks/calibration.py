"""Calibration of the reference models: ECE (15 bins) as served and after temperature scaling.

    python benchmarks/calibration.py                       # measure with the temperatures in judge.json
    python benchmarks/calibration.py --fit                 # choose them first (rule 1 of reports/not_a_digit.md)

Each model answers the prepared 28x28 inputs of experiments/reading_sets.py:
the "fit" sets (the validation split: clean, photographed, restyled), on which
the temperature is chosen with --fit and written to
saved_models/not_a_digit/<version>/judge.json, and the "measure" sets (MNIST
test: clean, photographed, restyled) plus the held-back UCI digits (13 writers
outside MNIST, enlarged scans on a page as benchmarks/other_writers.py makes
them) and, where digitnet/data/other_styles.py is there, its pen-trajectory
digits, on which it is only measured. The generated sets are kept in --cache.
Reliability diagrams (as served and calibrated) go to reports/figures/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import print_table, write_results

from digitnet.experiments.reading_sets import LabelledSet, cached_sets, prepared
from digitnet.serving import calibration
from digitnet.serving.judge import ModelSettings, default_judge_folder, fingerprint, load_judge

MODELS = ("saved_models/lenet/1", "saved_models/lenet/2", "saved_models/committee/1",
          "saved_models/tflite/lenet/1/lenet_int8.tflite", "saved_models/tflite/lenet/2/lenet_int8.tflite",
          "saved_models/tflite/committee/1/committee_int8.tflite")


def held_back_uci(seed: int = 0) -> LabelledSet | None:
    """The UCI digits as predict reads them (None without scikit-learn)."""
    try:
        from sklearn.datasets import load_digits as uci_digits
    except ImportError:
        return None
    from other_writers import scan_pages

    uci = uci_digits()
    images, found = prepared(scan_pages(uci.images, seed))
    return LabelledSet(images, uci.target[found], None, int(np.sum(~found)))


def held_back_styles(count: int = 2000, seed: int = 0) -> LabelledSet | None:
    """digitnet/data/other_styles.py's measuring set (pen-trajectory digits in other hands) as
    predict reads it; None where that module is absent."""
    try:
        from digitnet.data.other_styles import measuring_set
    except ImportError:
        return None
    pages, labels, _ = measuring_set(count, seed)
    images, found = prepared(pages)
    return LabelledSet(images, np.asarray(labels)[found], None, int(np.sum(~found)))


def held_back_sets() -> dict[str, LabelledSet]:
    """The held-back digit sets that are available: measured, never fitted on."""
    sets = {"uci (held back)": held_back_uci(), "other_styles (held back)": held_back_styles()}
    return {name: s for name, s in sets.items() if s is not None}


def answers(model: str, sets: dict[str, LabelledSet]) -> dict[str, np.ndarray]:
    """The model's served probabilities for each set's inputs."""
    from digitnet.serving.runtimes import load_predictor

    predictor = load_predictor(model)
    return {name: np.asarray(predictor(s.images), dtype=np.float64) for name, s in sets.items() if len(s.images)}


def model_name(model: str) -> str:
    return str(Path(model).relative_to("saved_models")) if model.startswith("saved_models/") else model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model paths")
    parser.add_argument("--fit", action="store_true", help="choose each model's temperature and write it")
    parser.add_argument("--judge", default=str(default_judge_folder()),
                        help="folder of judge.json (default: the newest saved_models/not_a_digit/<version>)")
    parser.add_argument("--cache", default="runs/reading_sets", help="folder that keeps the generated sets")
    parser.add_argument("--figures", default="reports/figures")
    parser.add_argument("--output", default="calibration", help="name of the JSON file in benchmarks/results")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    from digitnet.experiments.judge_selection import choose_temperature, write_judge

    digits = ("clean", "photos", "styles")
    fit_sets = {n: s for n, s in cached_sets("fit", args.cache).items() if n in digits}
    measure_sets = {n: s for n, s in cached_sets("measure", args.cache).items() if n in digits}
    measure_sets.update(held_back_sets())
    results, rows = {}, []
    for model in args.models.split(","):
        fitted = answers(model, fit_sets)
        measured = answers(model, measure_sets)
        labelled_fit = {n: (fitted[n], fit_sets[n].labels) for n in fitted}
        if args.fit:
            chosen, how = choose_temperature(labelled_fit)
            write_judge(args.judge, models={fingerprint(model): ModelSettings(model_name(model), chosen)})
        else:
            chosen, how = load_judge(model, args.judge).model.calibration, "judge.json"
        record = {"temperature": chosen.temperature, "chosen_by": how, "sets": {}}
        for purpose, probabilities, sets in (("fit", fitted, fit_sets), ("measure", measured, measure_sets)):
            for name, p in probabilities.items():
                labels = sets[name].labels
                before = calibration.expected_calibration_error(p, labels)
                after = calibration.expected_calibration_error(chosen(p), labels)
                record["sets"][f"{purpose}/{name}"] = {
                    "n": len(labels), "unread": sets[name].unread, "accuracy": float(np.mean(p.argmax(1) == labels)),
                    "mean_confidence_before": float(p.max(1).mean()), "mean_confidence_after": float(chosen(p).max(1).mean()),
                    "ece_before": before, "ece_after": after}
                rows.append([model_name(model), f"{purpose}/{name}", len(labels),
                             f"{100 * np.mean(p.argmax(1) == labels):.2f} %", f"{100 * before:.2f} %",
                             f"{100 * after:.2f} %", f"{chosen.temperature:.3f}"])
        stem = model_name(model).replace("/", "_").replace(".tflite", "")
        record["figure"] = calibration.plot_reliability(
            {name: (p, measure_sets[name].labels) for name, p in measured.items()},
            Path(args.figures) / f"reliability_{stem}.png", model_name(model), chosen)
        results[model_name(model)] = record
    print_table("ECE (15 bins) as served and with the chosen temperature",
                ["model", "set", "n", "accuracy", "ECE served", "ECE calibrated", "T"], rows)
    write_results(args.output, {"bins": calibration.BINS, "models": results})


if __name__ == "__main__":
    main()
