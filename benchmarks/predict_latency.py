"""How long `python -m digitnet.predict` takes: per command and per image, TFLite beside SavedModel.

    python benchmarks/predict_latency.py [--runs 5] [--n 1000] [--agreement]

Per command: `python -m digitnet.predict photo.png` in a fresh process, start
to exit, --runs times for each model (the default, the reference committee as
int8 TFLite through LiteRT, and the same committee as SavedModel through
TensorFlow); mean ± sample standard deviation. Per image: --n generated
photos of MNIST test digits (digitnet.data.photo_synth, a random mix of its
hard cases), written as PNG files and answered by one loaded model
(digitnet.predict.predict_each, as the command does for many files): the
whole per file, and the model alone on the prepared 28x28 inputs. The two
models' answers on the photos are compared too.

--agreement also answers the 10,000 MNIST test digits with the SavedModel and
each TFLite variant of the committee: accuracy and how many answers differ
from the SavedModel's (the default model must give the same answers, an int8
file within 0.1 percentage points of float32's accuracy).

Writes benchmarks/results/predict_latency_<machine>_<date>.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import print_table, timed_process, write_results

from digitnet.data.photo_synth import photo_set
from digitnet.data.sources import load_digits

def saved_model_of(tflite_file: str) -> str:
    """<root>/tflite/<name>/<v>/<name>_<variant>.tflite -> <root>/<name>/<v>, the SavedModel it was converted from."""
    version = Path(tflite_file).parent
    return str(version.parents[2] / version.parent.name / version.name)


def mean_std(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "runs": values}


def per_command(models: dict[str, str | None], photo: str, runs: int) -> dict:
    """Seconds of `python -m digitnet.predict [--model M] photo` in fresh processes, alternating the models."""
    seconds: dict[str, list[float]] = {name: [] for name in models}
    answers = {}
    for _ in range(runs):
        for name, model in models.items():
            command = [sys.executable, "-m", "digitnet.predict", *(["--model", model] if model else []), photo]
            elapsed, answers[name] = timed_process(command)
            seconds[name].append(elapsed)
    # The answer names the photo by its file name: its temporary folder is this machine's.
    return {name: {**mean_std(values), "answer": answers[name].strip().replace(photo, Path(photo).name)}
            for name, values in seconds.items()}


def per_image(models: dict[str, str], paths: list[str], labels: np.ndarray) -> dict:
    """Per model: ms per file (preprocessing and model) and per prepared image (model alone), accuracy, answers."""
    from digitnet.predict import predict_each
    from digitnet.serving.runtimes import load_predictor

    results = {}
    for name, model in models.items():
        predictor = load_predictor(model)
        started = time.perf_counter()
        answered = list(predict_each(predictor, paths, model))
        whole = time.perf_counter() - started
        inputs = np.stack([r["image"] for r in answered if "image" in r])
        started = time.perf_counter()
        predictor(inputs)
        alone = time.perf_counter() - started
        digits = np.array([r.get("digit", -1) for r in answered])
        results[name] = {"model": model, "ms_per_file": 1000 * whole / len(paths),
                         "ms_per_image_model_alone": 1000 * alone / len(inputs),
                         "accuracy": float(np.mean(digits == labels)), "answers": digits.tolist()}
    return results


def agreement(variants: dict[str, str]) -> dict:
    """Accuracy of each model on the 10,000 MNIST test digits, and the answers that differ from the first's."""
    from digitnet.serving.runtimes import load_predictor

    data = load_digits()
    answers, results = {}, {}
    for name, model in variants.items():
        started = time.perf_counter()
        answers[name] = np.argmax(load_predictor(model)(data.test_images), axis=1)
        reference = answers[next(iter(variants))]
        results[name] = {"model": model, "accuracy": float(np.mean(answers[name] == data.test_labels)),
                         "differ_from_saved_model": int(np.sum(answers[name] != reference)),
                         "seconds": time.perf_counter() - started}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per model")
    parser.add_argument("--n", type=int, default=1000, help="photos for the per-image figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agreement", action="store_true", help="also compare the variants on MNIST's test set")
    args = parser.parse_args()
    from digitnet.serving.runtimes import default_model

    default, description = default_model()  # the newest int8 TFLite committee (else LeNet)
    saved_model, name = saved_model_of(default), Path(default).parent.parent.name
    data = load_digits()
    chosen = np.sort(np.random.default_rng(args.seed).choice(len(data.test_labels), args.n, replace=False))
    labels = data.test_labels[chosen]
    report: dict = {"default_model": default, "default_description": description, "seed": args.seed}
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, photo in enumerate(photo_set(data.test_images[chosen], None, seed=args.seed)):
            paths.append(str(Path(folder) / f"photo_{index:04d}.png"))
            photo.save(paths[-1])
        report["per_command"] = per_command({"default (TFLite)": None, "SavedModel": saved_model}, paths[0],
                                            args.runs)
        report["per_image"] = per_image({"default (TFLite)": default, "SavedModel": saved_model}, paths, labels)
    first, second = (np.array(r["answers"]) for r in report["per_image"].values())
    report["photos_answered_differently"] = int(np.sum(first != second))
    print_table(f"python -m digitnet.predict photo.png, fresh process, {args.runs} runs",
                ["model", "seconds (mean ± sample std)", "answer"],
                [[name, f"{r['mean']:.2f} ± {r['std']:.2f}", r["answer"]] for name, r in report["per_command"].items()])
    print_table(f"{args.n} photos (seed {args.seed}), one model loaded",
                ["model", "ms per file", "ms per image, model alone", "accuracy"],
                [[name, f"{r['ms_per_file']:.1f}", f"{r['ms_per_image_model_alone']:.2f}",
                  f"{100 * r['accuracy']:.2f} %"] for name, r in report["per_image"].items()])
    print(f"photos answered differently by the two: {report['photos_answered_differently']} of {args.n}")
    if args.agreement:
        report["agreement"] = agreement({"SavedModel": saved_model,
                                         **{v: str(Path(default).parent / f"{name}_{v}.tflite")
                                            for v in ("float32", "int8")}})
        print_table("MNIST test set (10,000)", ["model", "accuracy", "answers unlike the SavedModel's"],
                    [[name, f"{100 * r['accuracy']:.2f} %", r["differ_from_saved_model"]]
                     for name, r in report["agreement"].items()])
    for result in report["per_image"].values():
        del result["answers"]
    write_results("predict_latency", report)


if __name__ == "__main__":
    main()
