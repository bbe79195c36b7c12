"""Training library: one run of one registered model, resumable, with its files.

A run folder holds: config.json, history.csv, all_losses.csv/.png,
metrics.json, model.keras, the task's figures, and backup/ while unfinished.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from digitnet import figures
from digitnet.callbacks import BatchLossLog, CollapseGuard, RunLogger, without_batch_loss_log
from digitnet.config import FIELDS_ADDED_LATER, JIT_CHOICES, NOT_RESULT_FIELDS, TrainConfig
from digitnet.data import DigitArrays, load_digits
from digitnet.distribute import is_chief, make_strategy, steps_per_execution_for
from digitnet.errors import ConfigError
from digitnet.files import atomic_path, read_csv_rows, write_json
from digitnet.models import ModelSpec, get_spec
from digitnet.pipeline import make_dataset, normalize_images, split_validation

FINE_TUNE_LR_FACTOR = 0.1
COLLAPSE_PROBE_IMAGES = 64


@dataclasses.dataclass(frozen=True)
class RunResult:
    output_dir: Path
    metrics: dict
    headline: str
    resumed: bool = False
    reused: bool = False

    @property
    def model_path(self) -> Path:
        return self.output_dir / "model.keras"


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    epochs: int
    learning_rate: float
    frozen_layer: str | None


def stages_for(spec: ModelSpec, config: TrainConfig) -> list[Stage]:
    if spec.fine_tune_layer is None:
        return [Stage("train", config.epochs, config.learning_rate, None)]
    return [
        Stage("frozen", config.epochs, config.learning_rate, spec.fine_tune_layer),
        Stage("fine_tuned", config.epochs, config.learning_rate * FINE_TUNE_LR_FACTOR, None),
    ]


def _say(message: str) -> None:
    print(f"[digitnet] {message}", flush=True)


def prepare_output_dir(config: TrainConfig) -> str:
    """Decides what to do with what the output folder already holds.

    Returns 'new', 'resume' (same config, unfinished) or 'finished' (same
    config, done). A folder from another config, or any folder under
    --fresh, is moved aside, never deleted."""
    folder = Path(config.output_dir)
    saved_config = folder / "config.json"
    if not saved_config.exists():
        if folder.exists() and any(folder.iterdir()):
            _archive(folder, "holds files that are not a digitnet run")
        return "new"
    try:
        previous = json.loads(saved_config.read_text())["result_fields"]
    except (ValueError, KeyError):
        previous = None
    if previous is not None:
        # Saved under older versions: fields added since take their old behaviour,
        # fields no longer counted as results (steps_per_execution) are dropped.
        previous = {key: value for key, value in {**FIELDS_ADDED_LATER, **previous}.items()
                    if key not in NOT_RESULT_FIELDS}
    same = previous == json.loads(json.dumps(config.result_fields()))
    if same and not config.fresh:
        return "finished" if (folder / "metrics.json").exists() else "resume"
    _archive(folder, "--fresh was given" if config.fresh else "it holds a run with another configuration")
    return "new"


def _archive(folder: Path, reason: str) -> None:
    stamp = datetime.datetime.fromtimestamp(folder.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    target = folder.with_name(f"{folder.name}.{stamp}")
    counter = 1
    while target.exists():
        target = folder.with_name(f"{folder.name}.{stamp}-{counter}")
        counter += 1
    folder.rename(target)
    _say(f"moved the earlier contents of {folder} to {target} ({reason})")


def _load_pretrained_encoder(config: TrainConfig, spec: ModelSpec, data: DigitArrays, strategy) -> keras.Model:
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
        _say(f"stage 1: training the {spec.pretrain} whose encoder {config.arch} uses")
        path = _run(pretrain_config, pretrain_spec, data, strategy).model_path
    autoencoder = keras.models.load_model(path)
    try:
        return autoencoder.get_layer("encoder")
    except ValueError:
        raise ConfigError(f"--encoder {path}: the model has no sub-model named 'encoder'") from None


def learning_rate_schedule(stage: Stage, config: TrainConfig, steps_per_epoch: int):
    """The learning rate of each step of `stage`: linear warm-up from 0 over
    config.warmup_epochs, then cosine decay to 0 or constant (alpha=1)."""
    warmup_steps = config.warmup_epochs * steps_per_epoch
    decay_steps = stage.epochs * steps_per_epoch - warmup_steps
    alpha = 0.0 if config.lr_schedule == "cosine" else 1.0
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(0.0, decay_steps, alpha=alpha, warmup_target=stage.learning_rate,
                                                      warmup_steps=warmup_steps)
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(stage.learning_rate, decay_steps=decay_steps)
    return stage.learning_rate


def _compile(model: keras.Model, spec: ModelSpec, stage: Stage, config: TrainConfig,
             steps_per_epoch: int) -> BatchLossLog:
    if stage.frozen_layer:
        model.get_layer(stage.frozen_layer).trainable = False
    else:
        for layer in model.layers:
            layer.trainable = True
    batch_loss_log = BatchLossLog(spec.task.loss, steps_per_epoch)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(stage, config, steps_per_epoch)),
        loss=spec.task.loss,
        metrics=[*spec.task.metrics, batch_loss_log],
        steps_per_execution=config.steps_per_execution,
        jit_compile=JIT_CHOICES[config.jit_compile],
    )
    return batch_loss_log


def _callbacks(output_dir: Path, stage: Stage, config: TrainConfig, train_images: np.ndarray,
               batch_loss_log: BatchLossLog) -> list:
    callbacks = [
        # First: a collapsed epoch must not reach the backup or the logs.
        CollapseGuard(normalize_images(train_images[:COLLAPSE_PROBE_IMAGES]), stage.learning_rate),
        # Before RunLogger: it sets the epoch that RunLogger trims its rows to.
        keras.callbacks.BackupAndRestore(str(output_dir / "backup" / stage.name)),
        RunLogger(output_dir, batch_loss_log, stage.learning_rate, stage=stage.name),
    ]
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(output_dir / "tensorboard" / stage.name)))
    return callbacks


def train(config: TrainConfig, data: DigitArrays | None = None,
          strategy: tf.distribute.Strategy | None = None) -> RunResult:
    """Trains `config.arch` as configured; the entry point for library users.

    `strategy` overrides `config.strategy` (for example a MirroredStrategy over
    chosen devices)."""
    config = config.resolved()
    # Before any other TensorFlow op, as MultiWorkerMirroredStrategy requires.
    strategy = strategy or make_strategy(config.strategy)
    config = dataclasses.replace(
        config, steps_per_execution=steps_per_execution_for(strategy, config.steps_per_execution))
    if data is None:
        data = load_digits(config.data_source, config.data_dir, config.tfds_data_dir)
    data = data.take_train(config.train_examples).take_test(config.test_examples)
    return _run(config, get_spec(config.arch), data, strategy)


def _run(config: TrainConfig, spec: ModelSpec, data: DigitArrays, strategy) -> RunResult:
    chief = is_chief(strategy)
    scratch = None if chief else tempfile.mkdtemp(prefix="digitnet-worker-")
    try:
        return _run_in(config, spec, data, strategy, Path(config.output_dir) if chief else Path(scratch))
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _run_in(config: TrainConfig, spec: ModelSpec, data: DigitArrays, strategy, output_dir: Path) -> RunResult:
    state = prepare_output_dir(dataclasses.replace(config, output_dir=str(output_dir)))
    if state == "finished":
        metrics = json.loads((output_dir / "metrics.json").read_text())
        result = RunResult(output_dir, metrics, metrics["headline"], reused=True)
        _say(f"{output_dir} already holds this finished run; reusing it (--fresh trains again)")
        return result
    if state == "resume":
        _say(f"resuming the interrupted run in {output_dir} from its last completed epoch")
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / "config.json", {
        "config": dataclasses.asdict(config),
        "result_fields": config.result_fields(),
        "model": {"arch": config.arch, "summary": spec.summary, "task": spec.task.name},
        "data_source": data.source,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    })

    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    encoder = _load_pretrained_encoder(config, spec, data, strategy) if spec.pretrain else None
    (train_images, train_labels), validation = split_validation(
        data.train_images, data.train_labels, config.validation_split
    )
    train_ds = make_dataset(train_images, train_labels, spec.task, config.batch_size,
                            shuffle=True, shuffle_seed=config.seed)
    test_ds = make_dataset(data.test_images, data.test_labels, spec.task, config.batch_size)
    val_ds = test_ds if config.test_every_epoch else validation and make_dataset(*validation, spec.task, config.batch_size)

    with strategy.scope():
        model = spec.build(encoder=encoder) if encoder is not None else spec.build()

    stage_metrics, seconds_per_epoch = {}, {}
    stages = stages_for(spec, config)
    for stage in stages:
        done_weights = output_dir / "backup" / f"{stage.name}.done.weights.h5"
        with strategy.scope():
            batch_loss_log = _compile(model, spec, stage, config,
                                      steps_per_epoch=-(-len(train_images) // config.batch_size))
        if done_weights.exists():
            model.load_weights(done_weights)
        else:
            if len(stages) > 1:
                _say(f"stage '{stage.name}': {stage.epochs} epochs at learning rate {stage.learning_rate:g}")
            model.fit(train_ds, epochs=stage.epochs, validation_data=val_ds, shuffle=False,
                      callbacks=_callbacks(output_dir, stage, config, train_images, batch_loss_log),
                      verbose=config.verbose and 1)
            with atomic_path(done_weights) as temporary:
                model.save_weights(temporary)
        stage_metrics[stage.name] = without_batch_loss_log(model.evaluate(test_ds, return_dict=True, verbose=0))
        rows = [r for r in read_csv_rows(output_dir / RunLogger.HISTORY) if r["stage"] == stage.name]
        epoch_seconds = [float(r["seconds"]) for r in rows]
        # The first epoch includes tracing and graph building.
        seconds_per_epoch[stage.name] = float(np.median(epoch_seconds[1:] or epoch_seconds)) if epoch_seconds else None

    final = stage_metrics[stage.name]
    headline = spec.task.describe(final)
    if len(stage_metrics) > 1:
        headline = "; ".join(f"{name}: {spec.task.describe(m)}" for name, m in stage_metrics.items())
    metrics = {
        "arch": config.arch,
        "weights_sha256": weights_digest(model),
        "task": spec.task.name,
        "test": final,
        "stages": stage_metrics,
        "seconds_per_epoch": seconds_per_epoch,
        "train_examples": len(train_images),
        "test_examples": len(data.test_images),
        "seed": config.seed,
        "headline": headline,
    }
    # The saved model carries only standard metrics, so it loads without digitnet.
    with strategy.scope():
        model.compile(optimizer=model.optimizer, loss=spec.task.loss, metrics=list(spec.task.metrics))
    with atomic_path(output_dir / "model.keras") as temporary:
        model.save(temporary)
    loss_rows = read_csv_rows(output_dir / RunLogger.ALL_LOSSES)
    figures.plot_all_losses(loss_rows, output_dir / "all_losses.png",
                            f"{config.arch}: loss of every batch (batch {config.batch_size}, lr {config.learning_rate:g})")
    test_inputs = normalize_images(data.test_images).numpy()
    spec.task.figures(model, test_inputs, data.test_labels, output_dir, config.arch)
    # Written last: its presence marks the run finished.
    write_json(output_dir / "metrics.json", metrics)
    shutil.rmtree(output_dir / "backup", ignore_errors=True)
    return RunResult(output_dir, metrics, headline, resumed=state == "resume")


def weights_digest(model: keras.Model) -> str:
    """A fingerprint of every weight, to compare runs and workers bit for bit."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()
