"""What each model gets wrong, digit by digit, on digits written in other hands.

    pip install scikit-learn   # the UCI digits ship inside its wheel: no download
    python benchmarks/other_styles.py [--models saved_models/lenet/1,saved_models/committee/1]
        [--styles 2000] [--uci 1797] [--mnist] [--figure reports/other_styles.png]

Three sets, each read by every model:
- other styles: digitnet/data/other_styles.py's measuring set, pen-drawn digits
  in the styles of writers outside MNIST (the continental 1, crossed 7 and 2,
  open 4, 9 with a curved tail, ...), drawn on pages and read through
  digitnet.predict.predict_files, exactly as the command line reads a file;
- UCI digits: 13 writers outside MNIST, as benchmarks/other_writers.py hands
  them over (its scan_pages), read the same way;
- MNIST test (with --mnist): the 10,000 test digits as arrays, straight into
  the model, as training measures its test accuracy.
For each model and set: the accuracy, and per digit the accuracy and what the
wrong answers were (a file where no digit was found counts as wrong, "-").
--figure draws a sample of the measuring set (page and 28x28 as read).
"""
from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from common import portable_argument, print_table, uci_digits, write_results

NO_DIGIT = -1


def per_class(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """{"n", "correct", "accuracy", "per_digit": {d: {"n", "correct", "accuracy", "read_as": {answer: count}}}}
    for true `labels` and `predictions` (NO_DIGIT where none was read); read_as counts the wrong answers."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    table = {}
    for digit in range(10):
        answers = predictions[labels == digit]
        wrong = Counter("-" if a == NO_DIGIT else str(int(a)) for a in answers if a != digit)
        correct = int(np.sum(answers == digit))
        table[str(digit)] = {"n": int(answers.size), "correct": correct,
                             "accuracy": correct / answers.size if answers.size else float("nan"),
                             "read_as": dict(wrong.most_common())}
    correct = int(np.sum(predictions == labels))
    return {"n": int(labels.size), "correct": correct, "accuracy": correct / labels.size, "per_digit": table}


def read_pages(models: list[str], pages, folder: Path, name: str) -> dict[str, np.ndarray]:
    """Each model's answers for `pages` (NO_DIGIT where no digit was found), saved as PNG files,
    each prepared as one digit the way digitnet.predict prepares a digit
    (serving/preprocess.prepare_file) and read by the model's runtime."""
    from digitnet.core.errors import DataError
    from digitnet.serving.preprocess import prepare_file
    from digitnet.serving.runtimes import load_predictor

    digits, found = [], []
    for index, page in enumerate(pages):
        path = folder / f"{name}_{index:05d}.png"
        page.save(path)
        try:
            digits.append(prepare_file(path))
            found.append(True)
        except DataError:
            digits.append(np.zeros((28, 28), np.uint8))
            found.append(False)
    found = np.array(found)
    return {model: np.where(found, np.argmax(load_predictor(model)(np.stack(digits)), axis=1), NO_DIGIT)
            for model in models}


def read_mnist_test(models: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from digitnet.data.sources import load_digits
    from digitnet.serving.runtimes import load_predictor

    data = load_digits()
    return data.test_labels, {m: np.argmax(load_predictor(m)(data.test_images), axis=1) for m in models}


def draw_figure(path: str, seed: int, count: int = 60) -> None:
    """A grid of the measuring set: each page beside the 28x28 digit that predict reads."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from digitnet.core.files import atomic_path
    from digitnet.data.other_styles import measuring_set
    from digitnet.serving.preprocess import to_grey, to_mnist

    pages, labels, names = measuring_set(count, seed)
    rows = -(-count // 10)
    figure, axes = plt.subplots(rows, 20, figsize=(20, 1.15 * rows + 0.6), squeeze=False)
    for index, page in enumerate(pages):
        row, column = divmod(index, 10)
        axes[row, 2 * column].imshow(np.asarray(page), cmap="gray", vmin=0, vmax=255)
        axes[row, 2 * column].set_title(f"{labels[index]}: {names[index]}", fontsize=6)
        axes[row, 2 * column + 1].imshow(to_mnist(to_grey(page)), cmap="gray_r", vmin=0, vmax=255)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"other styles (digitnet/data/other_styles.py, seed {seed}): each page, then the 28x28 "
                    "digit digitnet.predict reads", fontsize=10)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=80, bbox_inches="tight", format="png")
    plt.close(figure)


def print_per_class(set_name: str, scores: dict) -> None:
    rows = []
    for model, score in scores.items():
        cells = [f"{100 * score['per_digit'][str(d)]['accuracy']:.1f}" for d in range(10)]
        rows.append([model, f"{100 * score['accuracy']:.2f} %", *cells])
    print_table(f"{set_name}: accuracy, and per digit (%)", ["model", "all", *map(str, range(10))], rows)
    for model, score in scores.items():
        misreadings = [f"{d}->{a} x{c}" for d in range(10) for a, c in score["per_digit"][str(d)]["read_as"].items()]
        misreadings.sort(key=lambda text: -int(text.split("x")[-1]))
        print(f"  {model} reads wrongly: {', '.join(misreadings[:12]) or 'nothing'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="saved_models/lenet/1,saved_models/committee/1",
                        help="comma-separated SavedModel, .tflite or .keras paths")
    parser.add_argument("--styles", type=int, default=2000, help="digits of the measuring set (0: none)")
    parser.add_argument("--uci", type=int, default=1797, help="UCI digits to read (at most 1,797; 0: none)")
    parser.add_argument("--mnist", action="store_true", help="also the 10,000 MNIST test digits")
    parser.add_argument("--seed", type=int, default=0, help="seed of the measuring set and of the UCI pages")
    parser.add_argument("--figure", help="PNG of a sample of the measuring set")
    parser.add_argument("--output", default="other_styles", help="name of the JSON file in benchmarks/results")
    args = parser.parse_args()
    models = args.models.split(",")
    if args.figure:
        draw_figure(args.figure, args.seed)
    answers, truths = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        if args.styles:
            from digitnet.data.other_styles import measuring_set

            pages, truths["other styles"], _ = measuring_set(args.styles, args.seed)
            answers["other styles"] = read_pages(models, pages, Path(folder), "styles")
        if args.uci:
            from other_writers import scan_pages

            uci = uci_digits("other_styles.py")
            truths["UCI digits"] = uci.target[:args.uci]
            answers["UCI digits"] = read_pages(models, scan_pages(uci.images[:args.uci], args.seed), Path(folder),
                                               "uci")
    if args.mnist:
        truths["MNIST test"], answers["MNIST test"] = read_mnist_test(models)
    # Models named as the results may record them: no absolute path of this machine.
    results = {name: {portable_argument(model): per_class(truths[name], answer) for model, answer in by_model.items()}
               for name, by_model in answers.items()}
    for name, scores in results.items():
        print_per_class(name, scores)
    write_results(args.output, {"seed": args.seed, "sets": {
        "other styles": "digitnet/data/other_styles.py measuring_set(n, seed), pages through prepare_file",
        "UCI digits": "sklearn.datasets.load_digits, other_writers.scan_pages(seed), pages through prepare_file",
        "MNIST test": "the 10,000 MNIST test digits, arrays into the model"}, "results": results})


if __name__ == "__main__":
    main()
