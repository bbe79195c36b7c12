"""How well `python -m digitnet.predict` reads photos of digits, per hard case.

    python benchmarks/photo_accuracy.py [--model saved_models/lenet/1] [--n 300] [--case-n 300]
    python benchmarks/photo_accuracy.py --preprocessing /tmp/old_preprocess.py   # another preprocessing

MNIST test digits (a seeded sample, the same digits for every set) become
photos with digitnet.data.photo_synth: dark ink on paper of level 215-255,
enlarged to 80-240 pixels, off-centre on a larger page, every third one RGB,
light sensor noise. The sets: "mix" (each photo with a random choice of up
to two hard cases: the overall figure), "plain" (no hard case) and each hard
case alone. Every photo is written to a temporary folder as PNG and read
back by digitnet.predict.predict_files, exactly as the command line does.
Beside each figure: the model's accuracy on the same digits as MNIST arrays
("clean") and as 28x28 PNG files through the same preprocessing ("clean
files": MNIST's own digits must come back unchanged).

--preprocessing FILE replaces digitnet.serving.preprocess.prepare_file by the one in
FILE, e.g. an earlier version: git show <commit>:digitnet/serving/preprocess.py > FILE.
"""
from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np
from common import print_table, write_results
from PIL import Image

from digitnet.data.photo_synth import CASES, photo_set
from digitnet.data.sources import load_digits


def _use_preprocessing(path: str) -> None:
    """Makes predict_files use prepare_file from the Python file at `path`."""
    import digitnet.serving.preprocess

    spec = importlib.util.spec_from_file_location("replacement_preprocess", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    digitnet.serving.preprocess.prepare_file = module.prepare_file


def _write_sets(digits: np.ndarray, sizes: dict[str, int], seed: int, folder: Path) -> dict[str, list[str]]:
    """Writes each set's photos (and the clean digits) as PNG files; returns their paths per set."""
    paths = {"clean files": []}
    for index, digit in enumerate(digits):
        path = folder / f"clean_{index:04d}.png"
        Image.fromarray(digit).save(path)
        paths["clean files"].append(str(path))
    for number, (name, count) in enumerate(sizes.items()):
        cases = None if name == "mix" else (() if name == "plain" else (name,))
        paths[name] = []
        for index, photo in enumerate(photo_set(digits[:count], cases, seed=seed + 1 + number)):
            path = folder / f"{name}_{index:04d}.png"
            photo.save(path)
            paths[name].append(str(path))
    return paths


def _score(results: list[dict], labels: np.ndarray) -> dict:
    """Right answers of one set (a file without a digit found counts as wrong)."""
    digits = np.array([r.get("digit", -1) for r in results])
    errors = sum("error" in r for r in results)
    correct = int(np.sum(digits == labels[:len(digits)]))
    return {"n": len(results), "correct": correct, "accuracy": correct / len(results), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="saved_models/lenet/1")
    parser.add_argument("--n", type=int, default=300, help="photos in the mix, and digits in all")
    parser.add_argument("--case-n", type=int, default=300, help="photos per hard case (at most --n)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preprocessing", metavar="FILE", help="a preprocess.py whose prepare_file to use")
    parser.add_argument("--output", default="photo_accuracy", help="name of the JSON file in benchmarks/results")
    args = parser.parse_args()
    from digitnet.predict import predict_files
    from digitnet.serving.runtimes import load_predictor

    if args.preprocessing:
        _use_preprocessing(args.preprocessing)
    test = load_digits()
    chosen = np.sort(np.random.default_rng(args.seed).choice(len(test.test_labels), args.n, replace=False))
    digits, labels = test.test_images[chosen], test.test_labels[chosen]
    sizes = {"mix": args.n, "plain": min(args.case_n, args.n), **{c: min(args.case_n, args.n) for c in CASES}}
    clean = np.argmax(load_predictor(args.model)(digits), axis=1)
    with tempfile.TemporaryDirectory() as folder:
        paths = _write_sets(digits, sizes, args.seed, Path(folder))
        started = time.perf_counter()
        flat = predict_files(args.model, [p for name in paths for p in paths[name]])
        seconds = time.perf_counter() - started
    scores, start = {}, 0
    for name, files in paths.items():
        scores[name] = _score(flat[start:start + len(files)], labels)
        scores[name]["clean_accuracy"] = float(np.mean(clean[:len(files)] == labels[:len(files)]))
        start += len(files)
    photos = [s for name, s in scores.items() if name != "clean files"]
    overall = {"n": sum(s["n"] for s in photos), "correct": sum(s["correct"] for s in photos)}
    overall["accuracy"] = overall["correct"] / overall["n"]
    rows = [[name, s["n"], f"{100 * s['accuracy']:.2f} %", f"{100 * s['clean_accuracy']:.2f} %", s["errors"]]
            for name, s in scores.items()]
    rows.append(["all photos", overall["n"], f"{100 * overall['accuracy']:.2f} %", "", ""])
    print_table(f"{args.model}: photos of MNIST test digits (seed {args.seed})",
                ["set", "n", "accuracy", "clean, same digits", "no digit found"], rows)
    print(f"\npreprocessing + prediction: {1000 * seconds / len(flat):.1f} ms per file")
    write_results(args.output, {"model": args.model, "seed": args.seed, "preprocessing": args.preprocessing or
                                "digitnet/serving/preprocess.py", "overall_mix": scores["mix"], "all_photos": overall,
                                "sets": scores, "ms_per_file": 1000 * seconds / len(flat)})


if __name__ == "__main__":
    main()
