"""Training library: one run of one registered model, resumable, with its files.

A run folder holds: config.json, history.csv, all_losses.csv/.png,
metrics.json, model.keras, the task's figures, and backup/ while unfinished.
`run` reads as the list of its steps; each step is a function below it.

The loop is the same for every feed (feeds.py, --feed): the tf.data pipeline
under a tf.distribute strategy (tfdata_feed.py, the default), or in-memory
arrays on any Keras backend (feeds.ArrayFeed). This module imports no
TensorFlow; the tf.data feed does, when it is chosen.

It is the one module that calls Keras' fit (fit_epochs; tests/test_one_trainer.py
keeps it so): the registered models, a ModelSpec of the caller's own (train's
`spec`, such as the not-a-digit detector) and the benchmarks all train here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import keras
import numpy as np

from digitnet.core import figures
from digitnet.core.errors import ConfigError
from digitnet.core.files import read_csv_rows, write_json
from digitnet.core.images import to_model_input
from digitnet.data.sources import DigitArrays, load_digits, split_validation
from digitnet.models.builders import with_digit_width
from digitnet.models.registry import ModelSpec, get_spec
from digitnet.training import run_folder
from digitnet.training.callbacks import (BatchLossLog, CollapseGuard, EpochBackup, RunLogger, SetFeedEpoch,
                                         StopOnInterrupt, restore_epoch, without_batch_loss_log)
from digitnet.training.config import JIT_CHOICES, TrainConfig
from digitnet.training.feeds import ArrayFeed, Batches, Feed
from digitnet.training.optimizer import adam
from digitnet.training.resume import ResumePoint, agree_on_start

FINE_TUNE_LR_FACTOR = 0.1
COLLAPSE_PROBE_IMAGES = 64


@dataclasses.dataclass(frozen=True)
class RunResult:
    output_dir: Path
    metrics: dict
    headline: str
    resumed: bool = False
    reused: bool = False
    # False on the workers other than the chief: they write no run folder.
    chief: bool = True

    @property
    def model_path(self) -> Path:
        return run_folder.RunFolder(self.output_dir).model


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    epochs: int
    learning_rate: float
    # A sub-model kept frozen during this stage (None: everything trains).
    frozen_submodel: str | None


def stages_for(spec: ModelSpec, config: TrainConfig) -> list[Stage]:
    if spec.frozen_submodel is None:
        return [Stage("train", config.epochs, config.learning_rate, None)]
    return [
        Stage("frozen", config.epochs, config.learning_rate, spec.frozen_submodel),
        Stage("fine_tuned", config.epochs, config.learning_rate * FINE_TUNE_LR_FACTOR, None),
    ]


def say(message: str) -> None:
    print(f"[digitnet] {message}", flush=True)


def train(config: TrainConfig, data: DigitArrays | None = None, strategy=None,
          spec: ModelSpec | None = None) -> RunResult:
    """Trains `config.arch` as configured; the entry point for library users.

    `strategy` (a tf.distribute.Strategy, --feed tfdata only) overrides
    `config.strategy`, for example a MirroredStrategy over chosen devices.
    `spec` trains a model outside the REGISTRY (a ModelSpec whose builder is a
    function) under the name `config.arch`, with its settings as the defaults;
    `data` then holds its examples, labelled 0 to its number of classes - 1."""
    spec = spec or get_spec(config.arch)
    config = config.resolved(spec)
    # Before any other TensorFlow op, as MultiWorkerMirroredStrategy requires.
    feed = open_feed(config, strategy)
    config = dataclasses.replace(config, steps_per_execution=feed.steps_per_execution(config.steps_per_execution))
    if data is None:
        data = load_digits(config.data_source, config.data_dir, config.tfds_data_dir)
    data = data.take_train(config.train_examples).take_test(config.test_examples)
    folder = run_folder.worker_folder(config.output_dir, feed.worker_index)
    # One process per folder; a failed write ends in one line saying what the folder keeps.
    with feed.naming_lost_peers(), run_folder.RunFolder(folder).claimed():
        result = run(config, spec, data, feed, folder)
    if not result.chief:
        # The chief holds the run; this worker's state is no longer needed.
        shutil.rmtree(folder, ignore_errors=True)
    return result


def open_feed(config: TrainConfig, strategy=None) -> Feed:
    """The feed config.feed names (feeds.py); `strategy` goes to the tf.data feed."""
    if config.feed == ArrayFeed.name:
        if strategy is not None:
            raise ConfigError(f"--feed arrays trains on one device; a strategy needs --feed tfdata "
                              f"(received {type(strategy).__name__})")
        return ArrayFeed()
    from digitnet.training.tfdata_feed import TFDataFeed  # TensorFlow loads here

    return TFDataFeed(config, strategy)


def run(config: TrainConfig, spec: ModelSpec, data: DigitArrays, feed: Feed, folder: Path) -> RunResult:
    """One run in `folder`: agree on where to start, train every stage, save and describe the result."""
    chief = feed.worker_index == 0
    stages = stages_for(spec, config)
    start = agree_on_start(config, folder, stages, feed)
    if start.finished:
        return reuse_finished_run(folder, chief)
    start_folder(folder, config, spec, data, start, feed)
    seed_everything(config, feed)
    encoder = pretrained_encoder(config, spec, data, feed, folder) if spec.pretrain else None
    datasets = make_datasets(config, spec, data, feed)
    with feed.scope():
        model = build_model(spec, config, encoder)
        trainer = feed.training_model(model, config)
    stage_metrics = {stage.name: run_stage(model, trainer, spec, stage, index, start, config, datasets, feed, folder)
                     for index, stage in enumerate(stages)}
    metrics = summarize(config, spec, model, stage_metrics, len(datasets.train_images), data, folder, feed)
    save_model(model, trainer, spec, feed, folder)
    # On every worker: under a multi-worker strategy the figures' predictions are collective.
    draw_figures(model, spec, config, data, folder, feed)
    # Written last: its presence marks the run finished.
    write_json(folder / run_folder.METRICS, metrics)
    shutil.rmtree(folder / run_folder.BACKUP, ignore_errors=True)
    return RunResult(folder, metrics, metrics["headline"], resumed=start.resumed, chief=chief)


def build_model(spec: ModelSpec, config: TrainConfig, encoder=None) -> keras.Model:
    """The registered model, on the pretrained encoder if any, reading width-normalised digits if asked."""
    model = spec.build(encoder=encoder) if encoder is not None else spec.build()
    return with_digit_width(model, config.digit_width) if config.digit_width else model


def reuse_finished_run(folder: Path, chief: bool) -> RunResult:
    if not chief:
        return RunResult(folder, {}, "the chief holds this finished run", reused=True, chief=False)
    metrics = json.loads((folder / run_folder.METRICS).read_text())
    say(f"{folder} already holds this finished run; reusing it (--fresh trains again)")
    return RunResult(folder, metrics, metrics["headline"], reused=True)


def start_folder(folder: Path, config: TrainConfig, spec: ModelSpec, data: DigitArrays, start: ResumePoint,
                 feed: Feed) -> None:
    """Makes the folder ready for this run: earlier runs moved aside, config.json written."""
    if start.move_aside:
        moved = run_folder.move_aside(folder, start.move_aside)
        say(f"moved the earlier contents of {folder} to {moved} ({start.move_aside})")
    if start.clear:
        run_folder.clear_worker_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / run_folder.CONFIG, run_folder.config_record(
        config, data.source, spec, **feed.library_versions(), **feed.trained_by()))


def seed_everything(config: TrainConfig, feed: Feed | None = None) -> None:
    """Seeds Keras and, with --deterministic, makes the feed's backend deterministic."""
    (feed or open_feed(config)).seed(config)


def pretrained_encoder(config: TrainConfig, spec: ModelSpec, data: DigitArrays, feed: Feed, folder: Path):
    """The encoder of --encoder's autoencoder, or of one trained first in `folder`/pretrain-<arch>."""
    if config.encoder is not None:
        path = Path(config.encoder)
    else:
        pretrain_spec = get_spec(spec.pretrain)
        pretrain_config = dataclasses.replace(
            config,
            arch=spec.pretrain,
            epochs=config.pretrain_epochs or pretrain_spec.epochs,
            batch_size=pretrain_spec.batch_size,
            learning_rate=pretrain_spec.learning_rate,
            warmup_epochs=None,  # resolved() gives the pretrained model's own
            output_dir=str(Path(config.output_dir) / f"pretrain-{spec.pretrain}"),
            pretrain_epochs=None,
            export_formats=(),
            fresh=False,
        ).resolved()
        say(f"stage 1: training the {spec.pretrain} whose encoder {config.arch} uses")
        path = run(pretrain_config, pretrain_spec, data, feed, folder / f"pretrain-{spec.pretrain}").model_path
    with feed.scope():  # its variables become the strategy's, like the rest of the model's
        autoencoder = keras.models.load_model(path)
    try:
        return autoencoder.get_layer("encoder")
    except ValueError:
        raise ConfigError(f"--encoder {path}: the model has no sub-model named 'encoder'") from None


def make_datasets(config: TrainConfig, spec: ModelSpec, data: DigitArrays, feed: Feed | None = None) -> Batches:
    """The training images (less --validation-split's), the validation and the test images, as the feed gives them."""
    feed = feed or open_feed(config)
    (train_images, train_labels), validation = split_validation(
        data.train_images, data.train_labels, config.validation_split)
    train, start_epoch = feed.train_batches(train_images, train_labels, spec.task, config)
    test = feed.eval_batches(data.test_images, data.test_labels, spec.task, config)
    if config.test_every_epoch:
        validation_batches = test
    else:
        validation_batches = validation and feed.eval_batches(*validation, spec.task, config)
    return Batches(train, validation_batches, test, train_images, start_epoch)


def run_stage(model: keras.Model, trainer: keras.Model, spec: ModelSpec, stage: Stage, index: int,
              start: ResumePoint, config: TrainConfig, datasets: Batches, feed: Feed, folder: Path) -> dict:
    """Trains one stage from where the run starts (or loads it, if it was completed) and tests it.

    `trainer` is what fits: `model`, or `model` behind the feed's training-only layers."""
    backup = folder / run_folder.BACKUP / stage.name
    steps_per_epoch = -(-len(datasets.train_images) // config.batch_size)
    with feed.scope():
        batch_loss_log = compile_for_stage(model, spec, stage, config, steps_per_epoch, trainer=trainer)
    completed = start.epochs_completed(index, stage.epochs)
    if completed == stage.epochs:
        restore_epoch(trainer, backup, completed)
    else:
        if index or spec.pretrain:
            say(f"stage '{stage.name}': {stage.epochs} epochs at learning rate {stage.learning_rate:g}")
        callbacks = stage_callbacks(folder, stage, completed, config, datasets, batch_loss_log)
        fit_epochs(trainer, datasets.train, stage.epochs, validation=datasets.validation, callbacks=callbacks,
                   verbose=config.verbose and 1)
    return without_batch_loss_log(trainer.evaluate(datasets.test, return_dict=True, verbose=0))


def fit_epochs(trainer: keras.Model, batches, epochs: int, validation=None, callbacks: list | None = None,
               verbose: int = 0, steps_per_epoch: int | None = None):
    """digitnet's one call into Keras' fit: `epochs` passes over the feed's `batches`, in the
    feed's order (it shuffles by (seed, epoch); Keras never does). run_stage calls it with the
    run's callbacks; the benchmarks call it on a model built and compiled by this module, to
    time the very step a run takes."""
    return trainer.fit(batches, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=validation,
                       shuffle=False, callbacks=callbacks, verbose=verbose)


def compile_for_stage(model: keras.Model, spec: ModelSpec, stage: Stage, config: TrainConfig,
                      steps_per_epoch: int, trainer: keras.Model | None = None) -> BatchLossLog:
    """Freezes the stage's sub-model of `model` and compiles `trainer` (default: `model`) for the stage."""
    for layer in model.layers:
        layer.trainable = layer.name != stage.frozen_submodel
    batch_loss_log = BatchLossLog(spec.task.loss, steps_per_epoch)
    (trainer or model).compile(
        optimizer=adam(spec, stage.learning_rate, stage.epochs, config, steps_per_epoch),
        loss=spec.task.loss,
        metrics=[*spec.task.metrics, batch_loss_log],
        steps_per_execution=config.steps_per_execution,
        jit_compile=JIT_CHOICES[config.jit_compile],
    )
    return batch_loss_log


def stage_callbacks(folder: Path, stage: Stage, completed: int, config: TrainConfig, datasets: Batches,
                    batch_loss_log: BatchLossLog) -> list:
    def announce(epoch):
        say(f"resuming the interrupted run in {folder} after its completed epoch {epoch} (stage '{stage.name}')")

    callbacks = [
        SetFeedEpoch(datasets.start_epoch),
        # Before the records and the backup: a collapsed epoch must reach neither.
        CollapseGuard(to_model_input(datasets.train_images[:COLLAPSE_PROBE_IMAGES]), stage.learning_rate),
        # Records before backup: a kill between the two redoes the epoch, and
        # RunLogger drops the redone epoch's rows, so nothing is lost or doubled.
        RunLogger(folder, batch_loss_log, stage.learning_rate, stage=stage.name),
        EpochBackup(folder / run_folder.BACKUP / stage.name, resume_epoch=completed, on_restore=announce),
        StopOnInterrupt(),
    ]
    # Keras' TensorBoard callback writes through TensorFlow's summaries.
    if keras.backend.backend() == "tensorflow" and importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(folder / "tensorboard" / stage.name)))
    return callbacks


def summarize(config: TrainConfig, spec: ModelSpec, model: keras.Model, stage_metrics: dict, train_examples: int,
              data: DigitArrays, folder: Path, feed: Feed) -> dict:
    final = list(stage_metrics.values())[-1]
    headline = spec.task.headline(final)
    if len(stage_metrics) > 1:
        headline = "; ".join(f"{name}: {spec.task.headline(m)}" for name, m in stage_metrics.items())
    return {
        "arch": config.arch,
        "weights_sha256": weights_digest(model),
        "task": spec.task.name,
        "test": final,
        "stages": stage_metrics,
        "seconds_per_epoch": seconds_per_epoch(folder, list(stage_metrics)),
        "train_examples": train_examples,
        "test_examples": len(data.test_images),
        "seed": config.seed,
        "headline": headline,
        **feed.trained_by(),
    }


def seconds_per_epoch(folder: Path, stage_names: list[str]) -> dict:
    """Median epoch time per stage, leaving out the first epoch (tracing and graph building)."""
    rows = read_csv_rows(folder / RunLogger.HISTORY)
    result = {}
    for name in stage_names:
        seconds = [float(r["seconds"]) for r in rows if r["stage"] == name]
        result[name] = float(np.median(seconds[1:] or seconds)) if seconds else None
    return result


def save_model(model: keras.Model, trainer: keras.Model, spec: ModelSpec, feed: Feed, folder: Path) -> None:
    """model.keras: `model` with the optimizer that trained it and only standard metrics, so it loads
    without digitnet (and without the feed's training-only layers)."""
    with feed.scope():
        model.compile(optimizer=trainer.optimizer, loss=spec.task.loss, metrics=list(spec.task.metrics))
    run_folder.RunFolder(folder).save_model(model)


def draw_figures(model: keras.Model, spec: ModelSpec, config: TrainConfig, data: DigitArrays, folder: Path,
                 feed) -> None:
    figures.plot_all_losses(read_csv_rows(folder / RunLogger.ALL_LOSSES), folder / "all_losses.png",
                            f"{config.arch}: loss of every batch (batch {config.batch_size}, lr {config.learning_rate:g})")
    test_inputs = to_model_input(data.test_images)
    figures.figures_for(spec.task)(model, test_inputs, data.test_labels, folder, config.arch)
    if config.digit_width:
        # What the model reads: test digits before and after its width normalisation.
        digits = test_inputs[:12]
        figures.plot_reconstructions(digits, np.asarray(model.get_layer("digit_width")(digits)),
                                     folder / "digit_width.png", f"{config.arch} reads every digit "
                                     f"{config.digit_width} pixels wide", labels=("test digit", "as read"))
    if config.augment != "none":
        # What the model was trained on: training digits beside augmented versions of them.
        feed.draw_augmentation(data.train_images[:8], config.augment, folder / "augmentation.png", config.seed,
                               data.train_labels[:8])


def weights_digest(model: keras.Model) -> str:
    """A fingerprint of every weight, to compare runs and workers bit for bit."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()
