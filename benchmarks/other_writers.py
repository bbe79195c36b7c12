"""How well `python -m digitnet.predict` reads digits written by people outside MNIST.

    pip install scikit-learn   # its copy of the UCI digits ships inside the wheel: no download
    python benchmarks/other_writers.py [--models saved_models/lenet/1,saved_models/bpnn/1] [--n 1797]

The digits: the test set of the UCI "Optical Recognition of Handwritten
Digits" data (Alpaydin and Kaynak 1998; scikit-learn's `load_digits`), 1,797
digits from 13 writers on NIST forms, none of them MNIST's. Each is an 8x8
count of ink (0-16) in 4x4 blocks of a 32x32 scan: a low-resolution scan.
Each becomes a PNG as a user would hand it over: enlarged 6-20x (smoothly),
dark ink on white paper, off-centre on a larger page. Every file is read by
digitnet.predict.predict_files, exactly as the command line does, and each
model answers the same files.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import print_table, uci_digits, write_results
from PIL import Image


def scan_pages(images: np.ndarray, seed: int) -> list[Image.Image]:
    """8x8 ink counts (0-16) -> greyscale pages: each scan enlarged, dark on white, off-centre."""
    rng = np.random.default_rng(seed)
    pages = []
    for counts in images:
        ink = Image.fromarray(np.uint8(np.round(255 - counts * (255 / 16))))
        side = int(rng.integers(48, 161))
        digit = ink.resize((side, side), Image.Resampling.BILINEAR)
        width, height = side + int(rng.integers(20, 200)), side + int(rng.integers(20, 200))
        page = Image.new("L", (width, height), 255)
        page.paste(digit, (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))))
        pages.append(page)
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="saved_models/lenet/1,saved_models/bpnn/1",
                        help="comma-separated SavedModel, .tflite or .keras paths")
    parser.add_argument("--n", type=int, default=1797, help="digits to read (at most 1,797)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="other_writers", help="name of the JSON file in benchmarks/results")
    args = parser.parse_args()
    uci = uci_digits("other_writers.py")
    from digitnet.predict import predict_files

    images, labels = uci.images[:args.n], uci.target[:args.n]
    scores = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, page in enumerate(scan_pages(images, args.seed)):
            paths.append(str(Path(folder) / f"uci_{index:04d}.png"))
            page.save(paths[-1])
        for model in args.models.split(","):
            started = time.perf_counter()
            results = predict_files(model, paths)
            seconds = time.perf_counter() - started
            digits = np.array([r.get("digit", -1) for r in results])
            per_digit = {str(d): float(np.mean(digits[labels == d] == d)) for d in range(10)}
            scores[model] = {"n": len(paths), "correct": int(np.sum(digits == labels)),
                             "accuracy": float(np.mean(digits == labels)), "per_digit": per_digit,
                             "no_digit_found": sum("error" in r for r in results),
                             "ms_per_file": 1000 * seconds / len(paths)}
    rows = [[model, s["n"], f"{100 * s['accuracy']:.2f} %", min(s["per_digit"], key=s["per_digit"].get),
             f"{s['ms_per_file']:.1f}"] for model, s in scores.items()]
    print_table(f"UCI digits (13 writers outside MNIST), enlarged scans on a page (seed {args.seed})",
                ["model", "n", "accuracy", "hardest digit", "ms per file"], rows)
    write_results(args.output, {"data": "UCI optdigits test set via sklearn.datasets.load_digits",
                                "seed": args.seed, "models": scores})


if __name__ == "__main__":
    main()
