"""How often a reading says "not a digit": on generated non-digits, and (wrongly) on digits.

    python benchmarks/not_a_digit.py --select     # choose the threshold and floors (rules 3-4 of reports/not_a_digit.md)
    python benchmarks/not_a_digit.py              # measure with judge.json as it is
    python benchmarks/not_a_digit.py --low-resolution   # validation digits as 8x8 scans (prints only)
    python benchmarks/not_a_digit.py --command-seconds 7  # what `predict --not-a-digit` costs per command

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

--low-resolution asks why held-back UCI digits are refused without looking at
them: it turns the fit set's clean validation digits into scans like UCI's
(the digit's box resized to 32x32, binarised, ink counted in 4x4 blocks: 8x8
counts of 0-16), puts each on a page as other_writers.py does for UCI, and
prints what the detector and the confidence floor refuse, step by step, and
beside them the UCI digits themselves (measured only, as everywhere).

--command-seconds RUNS times `python -m digitnet.predict photo.png` with the
default model in fresh processes, with and without --not-a-digit, taking
turns, RUNS times each, on a photo of an MNIST test digit and on a photo of a
generated letter (photo_synth); writes not_a_digit_command_<machine>_<date>.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from calibration import MODELS, answers, held_back_sets, held_back_uci, model_name
from common import print_table, timed_process, write_results

from digitnet.experiments.reading_sets import LabelledSet, cached_sets
from digitnet.serving.judge import Detector, default_judge_folder, load_judge

DIGIT_SETS = ("clean", "photos", "styles")
TARGETS = {"clean": 0.005, "photos": 0.01, "negatives": 0.95, "negative_photos": 0.95}


def select(judge_folder: str, cache: str, models: list[str]) -> None:
    """Rules 3 and 4 on the fit sets; writes the threshold and the floor of each of `models`
    (the other models' settings in judge.json stay as they are)."""
    from digitnet.experiments.judge_selection import choose_floor, choose_threshold, write_judge

    sets = cached_sets("fit", cache)
    detector = Detector.load(Path(judge_folder) / "detector.npz")
    scores = {name: detector(s.images) for name, s in sets.items()}
    unread = {name: s.unread for name, s in sets.items()}
    threshold = choose_threshold(scores, unread)
    write_judge(judge_folder, threshold=threshold)
    print(f"detector threshold: {threshold}")
    for model in models:
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


def ink_counts(digit: np.ndarray, stretch: bool) -> np.ndarray:
    """A uint8 28x28 digit as 8x8 ink counts (0-16): its box resized to 32x32 (stretched to fill,
    or its aspect kept and centred), binarised, and the pixels on counted in 4x4 blocks."""
    from PIL import Image

    ys, xs = np.nonzero(digit > 30)
    box = Image.fromarray(digit[ys.min():ys.max() + 1, xs.min():xs.max() + 1])
    if not stretch:
        scale = 32 / max(box.size)
        box = box.resize((max(1, round(box.size[0] * scale)), max(1, round(box.size[1] * scale))),
                         Image.Resampling.BILINEAR)
        canvas = Image.new("L", (32, 32), 0)
        canvas.paste(box, ((32 - box.size[0]) // 2, (32 - box.size[1]) // 2))
        box = canvas
    on = np.asarray(box.resize((32, 32), Image.Resampling.BILINEAR)) > 127
    return on.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float64)


def low_resolution(model: str, judge_folder: str, cache: str, count: int, seed: int = 0) -> None:
    """The fit set's clean digits, step by step towards UCI-like 8x8 scans on a page: who refuses them."""
    from other_writers import scan_pages

    from digitnet.experiments.reading_sets import prepared

    clean = cached_sets("fit", cache)["clean"]
    chosen = np.sort(np.random.default_rng(seed).choice(len(clean.labels), min(count, len(clean.labels)),
                                                        replace=False))
    digits, labels = clean.images[chosen], clean.labels[chosen]
    steps = {"as they are": None,
             "on a page, 28x28 ink enlarged": digits * (16 / 255),
             "8x8 counts, aspect kept": np.array([ink_counts(d, stretch=False) for d in digits]),
             "8x8 counts, stretched to fill": np.array([ink_counts(d, stretch=True) for d in digits])}
    sets = {}
    for name, counts in steps.items():
        images, found = (digits, np.ones(len(digits), bool)) if counts is None else prepared(
            scan_pages(counts, seed + 1))
        sets[name] = LabelledSet(images, labels[found], None, int(np.sum(~found)))
    uci = held_back_uci()
    if uci is not None:
        sets["UCI digits (held back)"] = uci
    judge, rows = load_judge(model, judge_folder), []
    for name, labelled in sets.items():
        probabilities = answers(model, {"n": labelled})["n"]
        by_detector = judge.detector(labelled.images) >= judge.threshold
        by_floor = judge.model.calibration(probabilities).max(axis=1) < judge.model.confidence_floor
        right = probabilities.argmax(axis=1) == labelled.labels
        rows.append([name, len(labelled.labels) + labelled.unread,
                     f"{100 * rate(by_detector, labelled.unread):.1f} %", f"{100 * np.mean(by_floor & ~by_detector):.2f} %", f"{100 * np.mean(right):.1f} %",
                     f"{100 * np.mean(right[by_detector]):.1f} %" if by_detector.any() else "",
                     " ".join(f"{d}:{100 * np.mean(by_detector[labelled.labels == d]):.0f}" for d in range(10))])
    print_table(f"{model_name(model)}: validation digits made UCI-like ({judge_folder}, threshold {judge.threshold})",
                ["digits", "n", "refused by the detector", "by the floor alone", "model right",
                 "model right on the refused", "detector's refusals per digit, %"], rows)


def command_seconds(runs: int, seed: int = 0) -> None:
    """Seconds per `python -m digitnet.predict [--not-a-digit] photo.png` (default model), in turns."""
    from digitnet.data.negatives import generate
    from digitnet.data.photo_synth import photo_set
    from digitnet.data.sources import load_digits

    letter = generate(1, seed=seed + 7, kinds=("letter",)).images
    photos = photo_set(np.concatenate([load_digits().test_images[:1], letter]), None, seed=seed)
    results, rows = {}, []
    with tempfile.TemporaryDirectory() as folder:
        for name, photo in zip(("mnist_test_digit.png", "letter.png"), photos):
            path = str(Path(folder) / name)
            photo.save(path)
            for flags in ([], ["--not-a-digit"]):
                results[f"{name} {' '.join(flags)}".strip()] = {"seconds": [], "answer": None}
            for _ in range(runs):
                for flags in ([], ["--not-a-digit"]):
                    entry = results[f"{name} {' '.join(flags)}".strip()]
                    seconds, answer = timed_process([sys.executable, "-m", "digitnet.predict", *flags, path])
                    entry["seconds"].append(seconds)
                    entry["answer"] = answer.strip().replace(path, name)
    for key, entry in results.items():
        entry.update(mean=statistics.mean(entry["seconds"]), std=statistics.stdev(entry["seconds"]) if runs > 1 else 0.0)
        rows.append([key, runs, f"{entry['mean']:.3f} ± {entry['std']:.3f}", entry["answer"]])
    print_table("python -m digitnet.predict [--not-a-digit] photo, default model, fresh process (sample std)",
                ["photo and flags", "runs", "seconds", "answer"], rows)
    write_results("not_a_digit_command", {"runs": runs, "commands": results})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model paths")
    parser.add_argument("--select", action="store_true", help="choose the threshold and floors first")
    parser.add_argument("--judge", default=str(default_judge_folder()),
                        help="folder of judge.json and detector.npz (default: the newest version)")
    parser.add_argument("--cache", default="runs/reading_sets", help="folder that keeps the generated sets")
    parser.add_argument("--figures", default="reports/figures")
    parser.add_argument("--output", default="not_a_digit", help="name of the JSON file in benchmarks/results")
    parser.add_argument("--low-resolution", type=int, nargs="?", const=2000, metavar="N",
                        help="only print how N validation digits made UCI-like are refused (default 2,000)")
    parser.add_argument("--command-seconds", type=int, metavar="RUNS",
                        help="only time predict with and without --not-a-digit, RUNS times each")
    args = parser.parse_args()
    if args.command_seconds:
        command_seconds(args.command_seconds)
        return
    if args.low_resolution:
        low_resolution(MODELS[-1], args.judge, args.cache, args.low_resolution)
        return
    if args.select:
        select(args.judge, args.cache, args.models.split(","))
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
