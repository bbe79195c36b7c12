"""Calibration and a reliability diagram for a run folder's model.

    python -m digitnet.experiments.run_reliability runs/lenet

Reads <run folder>/model.keras, fits its temperature on the "fit" sets of
reading_sets.py (the validation split: clean, photographed, restyled; rule 1 of
reports/not_a_digit.md) and writes <run folder>/calibration.json and
<run folder>/reliability.png: accuracy against confidence on MNIST's test
digits, clean, photographed and restyled, as the model gives them and
calibrated. The photographed and restyled sets are smaller than the
benchmark's (RUN_SIZES), so that a run's diagram takes a minute, not ten.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from digitnet.core.errors import DataError
from digitnet.experiments.reading_sets import cached_sets

RUN_SIZES = {"photos": 500, "styles": 500, "negatives": 0, "negative_photos": 0, "pen": 0}
DIGIT_SETS = ("clean", "photos", "styles")


def reliability_for_run(run_folder: str | Path, cache_dir: str | Path | None = None,
                        sizes: dict[str, int] | None = None) -> dict:
    """Fits the run's temperature, writes calibration.json and reliability.png into the run
    folder; returns {"temperature", "ece": {set: (served, calibrated)}, "figure"}."""
    from digitnet.experiments.judge_selection import choose_temperature
    from digitnet.serving import calibration
    from digitnet.serving.runtimes import load_predictor

    folder = Path(run_folder)
    model = folder / "model.keras"
    if not model.is_file():
        raise DataError(f"{folder}: no model.keras in this run folder (train one with python -m digitnet.train)")
    predictor = load_predictor(model)
    sizes = {**RUN_SIZES, **(sizes or {})}
    answered = {}
    for purpose in ("fit", "measure"):
        sets = cached_sets(purpose, cache_dir, sizes)
        answered[purpose] = {n: (np.asarray(predictor(sets[n].images), np.float64), sets[n].labels)
                             for n in DIGIT_SETS if len(sets[n].labels)}
    chosen, _ = choose_temperature(answered["fit"])
    calibration.write_calibration(folder / "calibration.json", chosen)
    figure = calibration.plot_reliability({f"test {n}": pair for n, pair in answered["measure"].items()},
                                          folder / "reliability.png", folder.name, chosen)
    ece = {n: (calibration.expected_calibration_error(p, y), calibration.expected_calibration_error(chosen(p), y))
           for n, (p, y) in answered["measure"].items()}
    return {"temperature": chosen.temperature, "ece": ece, "figure": figure}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digitnet.experiments.run_reliability", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_folder")
    parser.add_argument("--cache", default="runs/reading_sets", help="folder that keeps the generated sets")
    args = parser.parse_args(argv)
    result = reliability_for_run(args.run_folder, args.cache)
    for name, (served, calibrated) in result["ece"].items():
        print(f"test {name}: ECE {100 * served:.2f} % as served, {100 * calibrated:.2f} % calibrated")
    print(f"temperature {result['temperature']:.3f}; {result['figure']}")
    return 0


if __name__ == "__main__":
    from digitnet.core import cli

    cli.run_as_process(main)
