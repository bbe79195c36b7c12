"""Reproduce the paper's Tables 1 and 2 over several seeds, with error bars.

Every run goes through digitnet.training.train (the same code as
`python -m digitnet.train`) into its own folder, so finished runs are read
back instead of repeated and an interrupted reproduction resumes.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from digitnet import figures
from digitnet.callbacks import RunLogger
from digitnet.config import TrainConfig
from digitnet.data import DigitArrays
from digitnet.errors import ConfigError
from digitnet.files import read_csv_rows, write_json, write_text
from digitnet.registry import get_spec
from digitnet.training import train


@dataclasses.dataclass(frozen=True)
class PaperRow:
    arch: str
    table: int
    label: str
    metric: str  # key of metrics.json's stage metrics
    stage: str  # which training stage the paper's figure corresponds to
    paper: float
    higher_is_better: bool


# Run order: ae_classifier reuses the same-seed autoencoder run as its encoder;
# the slow conv_autoencoder goes last so the quick rows are ready first.
PAPER_ROWS = (
    PaperRow("bpnn", 1, "BPNN", "accuracy", "train", 0.9765, True),
    PaperRow("lenet", 1, "CNN (LeNet)", "accuracy", "train", 0.9884, True),
    PaperRow("autoencoder", 2, "Autoencoder (dense), test BCE", "loss", "train", 0.1398, False),
    PaperRow("ae_classifier", 1, "Autoencoder (frozen code)", "accuracy", "frozen", 0.7438, True),
    PaperRow("conv_autoencoder", 2, "Conv autoencoder, test BCE", "loss", "train", 0.1129, False),
)
EXTRA_ROWS = (PaperRow("ae_classifier", 1, "Autoencoder (fine-tuned)", "accuracy", "fine_tuned", float("nan"), True),)
MODELS = tuple(row.arch for row in PAPER_ROWS)


@dataclasses.dataclass(frozen=True)
class ReproduceOptions:
    runs: int = 10
    models: tuple[str, ...] = MODELS
    output_dir: str = "reports"
    train_examples: int | None = None
    test_examples: int | None = None
    epochs: int | None = None  # None: the paper's
    lr_schedule: str = "cosine"
    first_seed: int = 0
    # Report the runs already finished, train nothing.
    only_finished: bool = False

    def validate(self) -> None:
        if not isinstance(self.runs, int) or self.runs < 1:
            raise ConfigError(f"--runs must be a positive integer, received {self.runs!r}")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise ConfigError(f"--models must name some of {', '.join(MODELS)}, received {','.join(self.models)!r}")


def machine_facts() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU")),
            "tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()}


def run_folder(options: ReproduceOptions, arch: str, seed: int) -> Path:
    return Path(options.output_dir) / "runs" / arch / f"seed-{seed}"


def _config(options: ReproduceOptions, arch: str, seed: int) -> TrainConfig:
    spec = get_spec(arch)
    encoder = None
    if spec.pretrain:
        reusable = run_folder(options, spec.pretrain, seed) / "model.keras"
        encoder = str(reusable) if reusable.exists() else None
    return TrainConfig(
        arch=arch, seed=seed, epochs=options.epochs, pretrain_epochs=options.epochs, encoder=encoder,
        train_examples=options.train_examples, test_examples=options.test_examples,
        lr_schedule=options.lr_schedule, test_every_epoch=True, verbose=0,
        output_dir=str(run_folder(options, arch, seed)),
    )


def _format_seconds(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def run_all(options: ReproduceOptions, data: DigitArrays, log=print) -> dict[str, list[dict]]:
    """Trains (or reads back) every run; returns arch -> list of metrics.json contents."""
    options.validate()
    jobs = [(arch, options.first_seed + k) for arch in MODELS if arch in options.models for k in range(options.runs)]
    results: dict[str, list[dict]] = {}
    started, trained_seconds, trained = time.monotonic(), 0.0, 0
    for number, (arch, seed) in enumerate(jobs, start=1):
        if options.only_finished:
            finished = run_folder(options, arch, seed) / "metrics.json"
            if finished.exists():
                results.setdefault(arch, []).append(json.loads(finished.read_text()))
            continue
        left = ""
        if trained:
            left = f", about {_format_seconds(trained_seconds / trained * (len(jobs) - number + 1))} left"
        log(f"[reproduce] run {number}/{len(jobs)}: {arch} seed {seed} "
            f"(elapsed {_format_seconds(time.monotonic() - started)}{left})")
        run_started = time.monotonic()
        keras.backend.clear_session()  # a fresh graph per run: no retracing, no growing memory
        result = train(_config(options, arch, seed), data=data)
        if not result.reused:
            trained_seconds += time.monotonic() - run_started
            trained += 1
        results.setdefault(arch, []).append(result.metrics)
    return results


def summarise(options: ReproduceOptions, results: dict[str, list[dict]], command: str) -> dict:
    rows = []
    for row in PAPER_ROWS + EXTRA_ROWS:
        if row.arch not in results:
            continue
        values = np.array([m["stages"][row.stage][row.metric] for m in results[row.arch]])
        seconds = [s for m in results[row.arch] for s in m["seconds_per_epoch"].values() if s]
        scale = 100.0 if row.metric == "accuracy" else 1.0
        mean = float(values.mean() * scale)
        rows.append({
            "table": row.table, "label": row.label, "arch": row.arch, "stage": row.stage,
            "metric": "test accuracy (%)" if row.metric == "accuracy" else "test BCE",
            "runs": len(values), "seeds": [m["seed"] for m in results[row.arch]],
            "values": [float(v * scale) for v in values],
            "mean": mean, "std": float(values.std(ddof=1) * scale) if len(values) > 1 else 0.0,
            "min": float(values.min() * scale), "max": float(values.max() * scale),
            "paper": None if np.isnan(row.paper) else row.paper * scale,
            "difference": None if np.isnan(row.paper) else mean - row.paper * scale,
            "beats_paper": None if np.isnan(row.paper) else bool(
                (mean > row.paper * scale) if row.higher_is_better else (mean < row.paper * scale)),
            # fsum: the same figure whatever order the stages come in (metrics.json sorts them).
            "seconds_per_epoch": math.fsum(seconds) / len(seconds) if seconds else None,
        })
    warmup_epochs = {arch: _run_config(options, arch, runs[0]["seed"]).get("warmup_epochs") or 0
                     for arch, runs in results.items()}
    return {"options": dataclasses.asdict(options), "rows": rows, "machine": machine_facts(), "command": command,
            "warmup_epochs": {arch: epochs for arch, epochs in warmup_epochs.items() if epochs},
            "train_examples": next(iter(results.values()))[0]["train_examples"],
            "test_examples": next(iter(results.values()))[0]["test_examples"]}


def _run_config(options: ReproduceOptions, arch: str, seed: int) -> dict:
    return json.loads((run_folder(options, arch, seed) / "config.json").read_text())["config"]


def _stacked(options, arch, runs, column, rows_of) -> np.ndarray:
    series = [[float(r[column]) for r in rows_of(run_folder(options, arch, m["seed"]))] for m in runs]
    length = min(len(s) for s in series)
    return np.array([s[:length] for s in series])


def make_figures(options: ReproduceOptions, results: dict[str, list[dict]]) -> list[str]:
    out = Path(options.output_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for arch, runs in results.items():
        losses = _stacked(options, arch, runs, "loss", lambda f: read_csv_rows(f / RunLogger.ALL_LOSSES))
        paths.append(figures.plot_band(losses, out / f"all_losses_{arch}.png",
                                       f"{arch}: loss of every batch, mean and min-max over {len(runs)} runs",
                                       "batch (whole run)", "training loss", log_scale=True))
        first = run_folder(options, arch, runs[0]["seed"])
        for name in ("reconstructions.png", "confusion_matrix.png", "misclassified.png"):
            if (first / name).exists() and (name == "reconstructions.png" or arch == "lenet"):
                paths.append(shutil.copyfile(first / name, out / f"{name[:-4]}_{arch}.png"))
    classifiers = {arch: runs for arch, runs in results.items() if get_spec(arch).task.name == "classification"}
    if classifiers:
        curves = {arch: 100 * _stacked(options, arch, runs, "val_accuracy", lambda f: read_csv_rows(f / RunLogger.HISTORY))
                  for arch, runs in classifiers.items()}
        paths.append(figures.plot_curves(curves, out / "accuracy_vs_epoch.png",
                                         "test accuracy after each epoch (mean, min-max shaded)", "epoch", "test accuracy (%)"))
    return [str(p) for p in paths]


def write_report(report: dict, figure_paths: list[str], output_dir: str) -> tuple[Path, Path]:
    out = Path(output_dir)
    assembled = report["options"]["only_finished"]
    lines = ["# Reproduction of Wan Zhu's MNIST tables", "",
             f"Command: `{report['command']}`" + (
                 " (assembled from the finished runs, which `python -m digitnet.reproduce` trained "
                 "with the same options minus --only-finished)" if assembled else ""), "",
             f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
             f"{report['machine']['gpus']} GPUs, TensorFlow {report['machine']['tensorflow']}, "
             f"Keras {report['machine']['keras']}.", "",
             f"Data: {report['train_examples']} training / {report['test_examples']} test images. "
             f"Learning-rate schedule: {report['options']['lr_schedule']} from 0.005 (Adam)"
             + "".join(f"; {arch} first rises linearly from 0 over {epochs} epoch(s) (its registered warm-up)"
                       for arch, epochs in report.get("warmup_epochs", {}).items()) + ".", ""]
    epochs = report["options"]["epochs"]
    for table, title in ((1, f"Table 1: test accuracy (%), {epochs or 6} epochs, batch 100"),
                         (2, f"Table 2: test reconstruction loss (per-pixel BCE), {epochs or 20} epochs, batch 128")):
        rows = [r for r in report["rows"] if r["table"] == table]
        if not rows:
            continue
        lines += [f"## {title}", "", "| model | paper | mean ± std | min | max | difference | runs | s/epoch |",
                  "|---|---|---|---|---|---|---|---|"]
        digits = 2 if table == 1 else 4
        for r in rows:
            paper = "–" if r["paper"] is None else f"{r['paper']:.{digits}f}"
            difference = "–" if r["difference"] is None else f"{r['difference']:+.{digits}f}"
            seconds = "–" if r["seconds_per_epoch"] is None else f"{r['seconds_per_epoch']:.1f}"
            lines.append(f"| {r['label']} | {paper} | {r['mean']:.{digits}f} ± {r['std']:.{digits}f} | "
                         f"{r['min']:.{digits}f} | {r['max']:.{digits}f} | {difference} | {r['runs']} | {seconds} |")
        lines.append("")
    lines += ["## Figures", ""] + [f"![{Path(p).stem}](figures/{Path(p).name})" for p in figure_paths]
    return write_json(out / "reproduction.json", report), write_text(out / "reproduction.md", "\n".join(lines) + "\n")


def reproduce(options: ReproduceOptions, data: DigitArrays, command: str | None = None, log=print) -> dict:
    results = run_all(options, data, log=log)
    if not results:
        raise ConfigError(f"no finished runs under {options.output_dir}/runs to report")
    report = summarise(options, results, command or " ".join(["python -m digitnet.reproduce", *sys.argv[1:]]))
    figure_paths = make_figures(options, results)
    json_path, markdown_path = write_report(report, figure_paths, options.output_dir)
    log(f"[reproduce] report: {markdown_path} and {json_path}")
    return report
