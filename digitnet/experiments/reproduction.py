"""Reproduce the paper's Tables 1 and 2 over several seeds: the runs and their statistics.

Every run goes through digitnet.training.loop.train (the same code as
`python -m digitnet.train`) into its own folder, so finished runs are read
back instead of repeated and an interrupted reproduction resumes. The
figures and the written report are digitnet.experiments.report's.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from digitnet.core.errors import ConfigError
from digitnet.core.machine import machine_facts
from digitnet.data.sources import DigitArrays
from digitnet.models.registry import get_spec
from digitnet.training.config import TrainConfig
from digitnet.training.run_folder import RunFolder


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


def run_folder(options: ReproduceOptions, arch: str, seed: int) -> Path:
    return Path(options.output_dir) / "runs" / arch / f"seed-{seed}"


def _config(options: ReproduceOptions, arch: str, seed: int) -> TrainConfig:
    spec = get_spec(arch)
    encoder = None
    if spec.pretrain:
        reusable = RunFolder(run_folder(options, spec.pretrain, seed)).model
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
    import keras  # loaded once the options are known to be good

    from digitnet.training import loop as training

    jobs = [(arch, options.first_seed + k) for arch in MODELS if arch in options.models for k in range(options.runs)]
    results: dict[str, list[dict]] = {}
    started, trained_seconds, trained = time.monotonic(), 0.0, 0
    for number, (arch, seed) in enumerate(jobs, start=1):
        if options.only_finished:
            finished = RunFolder(run_folder(options, arch, seed))
            if finished.finished:
                results.setdefault(arch, []).append(finished.read_metrics())
            continue
        left = ""
        if trained:
            left = f", about {_format_seconds(trained_seconds / trained * (len(jobs) - number + 1))} left"
        log(f"[reproduce] run {number}/{len(jobs)}: {arch} seed {seed} "
            f"(elapsed {_format_seconds(time.monotonic() - started)}{left})")
        run_started = time.monotonic()
        keras.backend.clear_session()  # a fresh graph per run: no retracing, no growing memory
        result = training.train(_config(options, arch, seed), data=data)
        if not result.reused:
            trained_seconds += time.monotonic() - run_started
            trained += 1
        results.setdefault(arch, []).append(result.metrics)
    return results


def summarise(options: ReproduceOptions, results: dict[str, list[dict]], command: str) -> dict:
    """The report's contents: one row of statistics per table row, the options, the machine and the data."""
    rows = [_row_statistics(row, results[row.arch]) for row in PAPER_ROWS + EXTRA_ROWS if row.arch in results]
    warmup_epochs = {arch: _run_config(options, arch, runs[0]["seed"]).get("warmup_epochs") or 0
                     for arch, runs in results.items()}
    return {"options": dataclasses.asdict(options), "rows": rows, "machine": machine_facts(), "command": command,
            "warmup_epochs": {arch: epochs for arch, epochs in warmup_epochs.items() if epochs},
            "train_examples": next(iter(results.values()))[0]["train_examples"],
            "test_examples": next(iter(results.values()))[0]["test_examples"]}


def _row_statistics(row: PaperRow, runs: list[dict]) -> dict:
    """Mean, std, min and max of `row`'s metric over `runs` (metrics.json contents), beside the paper's figure."""
    values = np.array([m["stages"][row.stage][row.metric] for m in runs])
    seconds = [s for m in runs for s in m["seconds_per_epoch"].values() if s]
    scale = 100.0 if row.metric == "accuracy" else 1.0
    mean = float(values.mean() * scale)
    return {
        "table": row.table, "label": row.label, "arch": row.arch, "stage": row.stage,
        "metric": "test accuracy (%)" if row.metric == "accuracy" else "test BCE",
        "runs": len(values), "seeds": [m["seed"] for m in runs],
        "values": [float(v * scale) for v in values],
        "mean": mean, "std": float(values.std(ddof=1) * scale) if len(values) > 1 else 0.0,
        "min": float(values.min() * scale), "max": float(values.max() * scale),
        "paper": None if np.isnan(row.paper) else row.paper * scale,
        "difference": None if np.isnan(row.paper) else mean - row.paper * scale,
        "beats_paper": None if np.isnan(row.paper) else bool(
            (mean > row.paper * scale) if row.higher_is_better else (mean < row.paper * scale)),
        # fsum: the same figure whatever order the stages come in (metrics.json sorts them).
        "seconds_per_epoch": math.fsum(seconds) / len(seconds) if seconds else None,
    }


def _run_config(options: ReproduceOptions, arch: str, seed: int) -> dict:
    return RunFolder(run_folder(options, arch, seed)).read_config()["config"]
