"""Calibration of the reference models: ECE (15 bins) as served and after temperature scaling.

    python benchmarks/calibration.py                       # measure with the temperatures in judge.json
    python benchmarks/calibration.py --fit                 # choose them first (rule 1 of reports/not_a_digit.md)

Each model answers the prepared 28x28 inputs of experiments/reading_sets.py:
the "fit" sets (the validation split: clean, photographed, restyled; and
digitnet/data/other_styles.py's pen-trajectory digits of seed 100), on which
the temperatures (one per answered digit, rule 1) are chosen with --fit and
written to saved_models/not_a_digit/<version>/judge.json, and the "measure"
sets (MNIST test: clean, photographed, restyled; other_styles.py's measuring
draw, seed 0) plus the held-back UCI digits (13 writers outside MNIST,
enlarged scans on a page as benchmarks/other_writers.py makes them), on which
they are only measured. The generated sets are kept in --cache. Reliability
diagrams (as served and calibrated) go to reports/figures/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import print_table, write_results

from digitnet.experiments.reading_sets import LabelledSet, cached_sets, pen_drawn, prepared
from digitnet.serving import calibration
from digitnet.serving.judge import ModelSettings, default_judge_folder, fingerprint, load_judge

MODELS = ("saved_models/lenet/1", "saved_models/lenet/2", "saved_models/lenet/3", "saved_models/committee/1",
          "saved_models/committee/2", "saved_models/committee/3", "saved_models/committee/4",
          "saved_models/committee/5",
          "saved_models/tflite/lenet/1/lenet_int8.tflite", "saved_models/tflite/lenet/2/lenet_int8.tflite",
          "saved_models/tflite/lenet/3/lenet_int8.tflite",
          "saved_models/tflite/committee/1/committee_int8.tflite",
          "saved_models/tflite/committee/2/committee_int8.tflite",
          "saved_models/tflite/committee/3/committee_int8.tflite",
          "saved_models/tflite/committee/4/committee_int8.tflite",
          "saved_models/tflite/committee/5/committee_int8.tflite")  # last: predict's default model


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


def held_back_sets() -> dict[str, LabelledSet]:
    """The digit sets beside the measure purpose that are measured and never fitted on: UCI's
    writers (held back, where scikit-learn is there) and other_styles.py's measuring draw
    (seed 0; the fit sets hold another draw of that generator, seed 100)."""
    sets = {"uci (held back)": held_back_uci(), "pen (other_styles, seed 0)": pen_drawn(2000, 0)}
    return {name: s for name, s in sets.items() if s is not None}


def best_one_temperature(labelled_fit: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """What one temperature can do on the fit sets (why rule 1 holds one per answer): the T of
    0.50, 0.51, ..., 3.00 whose largest ECE / target over the fit sets is smallest, with its ECEs."""
    from digitnet.experiments.judge_selection import ECE_TARGETS

    def eces(t: float) -> dict[str, float]:
        return {n: calibration.expected_calibration_error(calibration.scaled(p, t), y)
                for n, (p, y) in labelled_fit.items()}

    grid = np.round(np.arange(0.5, 3.0 + 1e-9, 0.01), 2)
    ratio, t = min((max(e / ECE_TARGETS[n] for n, e in eces(t).items()), t) for t in grid)
    return {"temperature": float(t), "largest_ece_over_target": ratio, "ece": eces(t)}


def errors(probabilities: np.ndarray, labels: np.ndarray, most: int = 5) -> dict:
    """The commonest errors ("true->answered": count) and the median served confidence of the errors."""
    answered = probabilities.argmax(axis=1)
    wrong = answered != labels
    pairs, counts = np.unique(np.stack([labels[wrong], answered[wrong]], axis=1), axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:most]
    return {"errors": {f"{pairs[i][0]}->{pairs[i][1]}": int(counts[i]) for i in order},
            "error_confidence_median": float(np.median(probabilities.max(axis=1)[wrong])) if wrong.any() else None}


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

    digits = ("clean", "photos", "styles", "pen")
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
        record = {**chosen.to_json(), "chosen_by": how, "best_one_temperature": best_one_temperature(labelled_fit),
                  "sets": {}}
        one = calibration.Calibration(chosen.temperature)  # the recorded one temperature, for comparison
        for purpose, probabilities, sets in (("fit", fitted, fit_sets), ("measure", measured, measure_sets)):
            for name, p in probabilities.items():
                labels = sets[name].labels
                before = calibration.expected_calibration_error(p, labels)
                after = calibration.expected_calibration_error(chosen(p), labels)
                record["sets"][f"{purpose}/{name}"] = {
                    "n": len(labels), "unread": sets[name].unread, "accuracy": float(np.mean(p.argmax(1) == labels)),
                    "mean_confidence_before": float(p.max(1).mean()), "mean_confidence_after": float(chosen(p).max(1).mean()),
                    "ece_before": before, "ece_after": after,
                    "ece_one_temperature": calibration.expected_calibration_error(one(p), labels),
                    **errors(p, labels)}
                rows.append([model_name(model), f"{purpose}/{name}", len(labels),
                             f"{100 * np.mean(p.argmax(1) == labels):.2f} %", f"{100 * before:.2f} %",
                             f"{100 * after:.2f} %", chosen.describe()])
        stem = model_name(model).replace("/", "_").replace(".tflite", "")
        record["figure"] = calibration.plot_reliability(
            {name: (p, measure_sets[name].labels) for name, p in measured.items()},
            Path(args.figures) / f"reliability_{stem}.png", model_name(model), chosen)
        results[model_name(model)] = record
    print_table("ECE (15 bins) as served and with the chosen temperature",
                ["model", "set", "n", "accuracy", "ECE served", "ECE calibrated", "calibration"], rows)
    print_table("The best one temperature on the fit sets (smallest largest ECE / target)",
                ["model", "T", "largest ECE / target", "fit sets' ECE"],
                [[name, f"{best['temperature']:.2f}", f"{best['largest_ece_over_target']:.2f}",
                  " ".join(f"{n} {100 * e:.2f} %" for n, e in best["ece"].items())]
                 for name, best in ((n, r["best_one_temperature"]) for n, r in results.items())])
    write_results(args.output, {"bins": calibration.BINS, "models": results})


if __name__ == "__main__":
    main()
