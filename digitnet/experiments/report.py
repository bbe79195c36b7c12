"""The reproduction's report: figures over the seeds, reproduction.md and reproduction.json.

reproduce() runs the whole reproduction: digitnet.experiments.reproduction trains (or
reads back) the runs and computes their statistics, this module draws and
writes. The dependency goes one way: reproduction knows nothing of the report.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from digitnet.core import figures
from digitnet.core.errors import ConfigError
from digitnet.core.files import failed_writes_named, write_json, write_text
from digitnet.data.sources import DigitArrays
from digitnet.experiments.reproduction import ReproduceOptions, run_all, run_folder, summarise
from digitnet.models.registry import get_spec
from digitnet.training.run_folder import RunFolder


def reproduce(options: ReproduceOptions, data: DigitArrays, command: str | None = None, log=print) -> dict:
    """Runs (or reads back) every seed, then writes the report; returns its contents."""
    results = run_all(options, data, log=log)
    if not results:
        raise ConfigError(f"no finished runs under {options.output_dir}/runs to report")
    report = summarise(options, results, command or " ".join(["python -m digitnet.reproduce", *sys.argv[1:]]))
    with failed_writes_named(options.output_dir, lambda failure: f"the finished runs are kept in "
                             f"{options.output_dir}/runs; {failure.advice} and run the same command again"):
        figure_paths = make_figures(options, results)
        json_path, markdown_path = write_report(report, figure_paths, options.output_dir)
    log(f"[reproduce] report: {markdown_path} and {json_path}")
    return report


def _stacked(options, arch, runs, column, rows_of) -> np.ndarray:
    series = [[float(r[column]) for r in rows_of(run_folder(options, arch, m["seed"]))] for m in runs]
    length = min(len(s) for s in series)
    return np.array([s[:length] for s in series])


def make_figures(options: ReproduceOptions, results: dict[str, list[dict]]) -> list[str]:
    """Every model's all-losses band, the figures its registry entry names, and the classifiers' accuracy curves."""
    out = Path(options.output_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for arch, runs in results.items():
        losses = _stacked(options, arch, runs, "loss", lambda f: RunFolder(f).loss_rows())
        paths.append(figures.plot_band(losses, out / f"all_losses_{arch}.png",
                                       f"{arch}: loss of every batch, mean and min-max over {len(runs)} runs",
                                       "batch (whole run)", "training loss", log_scale=True))
        first = run_folder(options, arch, runs[0]["seed"])
        for name in get_spec(arch).report_figures:  # copied from the first seed's run folder
            if (first / name).exists():
                paths.append(shutil.copyfile(first / name, out / f"{name[:-4]}_{arch}.png"))
    classifiers = {arch: runs for arch, runs in results.items() if get_spec(arch).task.name == "classification"}
    if classifiers:
        curves = {arch: 100 * _stacked(options, arch, runs, "val_accuracy", lambda f: RunFolder(f).history_rows())
                  for arch, runs in classifiers.items()}
        paths.append(figures.plot_curves(curves, out / "accuracy_vs_epoch.png",
                                         "test accuracy after each epoch (mean, min-max shaded)", "epoch", "test accuracy (%)"))
    return [str(p) for p in paths]


def write_report(report: dict, figure_paths: list[str], output_dir: str) -> tuple[Path, Path]:
    """Writes reproduction.json (the report as is) and reproduction.md; returns their paths."""
    out = Path(output_dir)
    lines = _header(report) + _tables(report)
    lines += ["## Figures", ""] + [f"![{Path(p).stem}](figures/{Path(p).name})" for p in figure_paths]
    return write_json(out / "reproduction.json", report), write_text(out / "reproduction.md", "\n".join(lines) + "\n")


def _header(report: dict) -> list[str]:
    """The title, the command, the machine, the data and the learning-rate schedule."""
    assembled = report["options"]["only_finished"]
    return ["# Reproduction of Wan Zhu's MNIST tables", "",
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


def _tables(report: dict) -> list[str]:
    """Tables 1 and 2 in markdown, each left out when none of its models ran."""
    lines = []
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
    return lines
