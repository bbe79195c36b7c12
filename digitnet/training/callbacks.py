"""Callbacks of a training run: its records, its backup, and its stops."""
from __future__ import annotations

import math
import re
import time
from pathlib import Path

import keras
import numpy as np

from digitnet.core import interrupts
from digitnet.core.errors import TrainingError
from digitnet.core.files import atomic_path, read_csv_rows, write_bytes, write_csv
from digitnet.training import run_folder
from digitnet.training.run_folder import weights_file_bytes, weights_name


class BatchLossLog(keras.metrics.Metric):
    """The loss of every batch of the current epoch, recorded inside the compiled step.

    With steps_per_execution N > 1, callbacks see Keras' running mean of the
    loss only every N batches, and N batches cannot be told apart from it; this
    metric applies the same loss function to the same outputs and keeps each
    batch's value at its index in the epoch (Keras resets metrics at the start
    of each epoch), so the all-losses log stays per batch at any N. Across
    replicas the values are averaged, as Keras averages the loss.
    """

    # What the progress bar shows for it: result() is the latest batch's loss.
    NAME = "last_batch_loss"

    def __init__(self, loss: str, batches_per_epoch: int, name: str = NAME, **kwargs):
        super().__init__(name=name, **kwargs)
        self.loss_fn = keras.losses.get(loss)
        self.batches_per_epoch = batches_per_epoch
        self.values = self.add_variable(shape=(batches_per_epoch,), initializer="zeros", name="values",
                                        aggregation="mean")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="int32", name="count",
                                       aggregation="only_first_replica")

    def update_state(self, y_true, y_pred, sample_weight=None):
        loss = keras.ops.mean(self.loss_fn(y_true, y_pred))
        # A mask rather than a scatter: XLA recompiled the step for each new index.
        # Variables are read into tensors first: JAX's where() takes no Keras variable.
        values, count = keras.ops.convert_to_tensor(self.values), keras.ops.convert_to_tensor(self.count)
        is_this_batch = keras.ops.arange(self.batches_per_epoch) == keras.ops.mod(count, self.batches_per_epoch)
        self.values.assign(keras.ops.where(is_this_batch, keras.ops.cast(loss, self.values.dtype), values))
        self.count.assign(count + 1)

    def result(self):
        values, count = keras.ops.convert_to_tensor(self.values), keras.ops.convert_to_tensor(self.count)
        latest = keras.ops.mod(keras.ops.maximum(count - 1, 0), self.batches_per_epoch)
        return keras.ops.sum(keras.ops.where(keras.ops.arange(self.batches_per_epoch) == latest, values, 0.0))

    def batch_losses(self, first: int, last: int) -> list[float]:
        """Losses of batches first..last (inclusive) of the current epoch."""
        return [float(v) for v in keras.ops.convert_to_numpy(self.values)[first:last + 1]]

    def get_config(self):
        return {"loss": self.loss_fn.__name__, "batches_per_epoch": self.batches_per_epoch, "name": self.name}


def without_batch_loss_log(logs: dict) -> dict:
    """Metrics as reported: the latest batch's loss is progress, not a result."""
    return {key: value for key, value in logs.items() if not key.endswith(BatchLossLog.NAME)}


class RunLogger(keras.callbacks.Callback):
    """Writes history.csv and all_losses.csv at the end of every epoch.

    The loss of each batch comes from the model's BatchLossLog metric, read
    after each call into the compiled step (exact at any steps_per_execution).
    On a resumed run, rows of epochs that are being redone are dropped, so a
    kill mid-epoch neither loses nor duplicates rows.
    A NaN loss stops the run with a TrainingError naming the epoch and batch.
    """

    HISTORY = run_folder.HISTORY
    ALL_LOSSES = run_folder.ALL_LOSSES

    def __init__(self, output_dir: Path, batch_loss_log: BatchLossLog, learning_rate: float, stage: str = "train"):
        super().__init__()
        self.batch_loss_log = batch_loss_log
        self.output_dir = Path(output_dir)
        self.learning_rate = learning_rate
        self.stage = stage
        self.history_rows: list[dict] | None = None
        self.loss_rows: list[dict] = []

    def _load_kept_rows(self, first_epoch: int) -> None:
        def keep(row):
            return row["stage"] != self.stage or int(row["epoch"]) < first_epoch

        self.history_rows = [r for r in read_csv_rows(self.output_dir / self.HISTORY) if keep(r)]
        self.loss_rows = [r for r in read_csv_rows(self.output_dir / self.ALL_LOSSES) if keep(r)]

    def on_epoch_begin(self, epoch, logs=None):
        if self.history_rows is None:
            self._load_kept_rows(epoch)
        self._next_batch = 0
        self._epoch = epoch
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # On JAX, Keras attaches the step's state (the metric's values among it) to
        # the model only when a callback reads self.model.
        self.model  # noqa: B018
        # With steps_per_execution N, `batch` is the last of the N batches just run.
        first = self._next_batch
        for index, loss in enumerate(self.batch_loss_log.batch_losses(first, batch), start=first):
            if not math.isfinite(loss):
                raise TrainingError(
                    f"the loss became {loss} at epoch {self._epoch + 1}, batch {index + 1} "
                    f"(learning rate {self.learning_rate:g}); the model is not saved. "
                    f"Try a smaller --learning-rate, e.g. {self.learning_rate / 10:g}"
                )
            self.loss_rows.append(
                {"stage": self.stage, "epoch": self._epoch, "batch": index, "step": len(self.loss_rows), "loss": loss}
            )
        self._next_batch = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        row = {"stage": self.stage, "epoch": epoch, "seconds": round(time.perf_counter() - self._started, 3)}
        row.update({key: float(value) for key, value in sorted(without_batch_loss_log(logs or {}).items())})
        self.history_rows.append(row)
        history_header = list(dict.fromkeys(key for r in self.history_rows for key in r))
        write_csv(self.output_dir / self.HISTORY, history_header,
                  [[r.get(key, "") for key in history_header] for r in self.history_rows])
        loss_header = ["stage", "epoch", "batch", "step", "loss"]
        for step, r in enumerate(self.loss_rows):
            r["step"] = step
        write_csv(self.output_dir / self.ALL_LOSSES, loss_header, [[r[key] for key in loss_header] for r in self.loss_rows])


class CollapseGuard(keras.callbacks.Callback):
    """Stops a run whose output no longer depends on its input.

    When every ReLU of a layer dies, the model answers every image the same
    (an autoencoder outputs the mean image) and cannot recover; the loss stays
    finite, so only the outputs show it. Checked at each epoch's end on a few
    training images: one forward pass, no cost worth measuring.
    """

    # A trained model's outputs vary by tenths across images; a collapsed one's by float noise.
    MIN_SPREAD = 1e-4

    def __init__(self, probe_images, learning_rate: float):
        super().__init__()
        self.probe_images = probe_images
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch, logs=None):
        outputs = np.asarray(self.model(self.probe_images, training=False))
        spread = float(outputs.std(axis=0).max())
        if spread < self.MIN_SPREAD:
            raise TrainingError(
                f"the model collapsed by the end of epoch {epoch + 1}: its output is the same for every image "
                f"(largest spread across {len(outputs)} images: {spread:.1e}), usually because all units of a "
                f"ReLU layer died; the model is not saved. Try --warmup-epochs 1 or a smaller --learning-rate "
                f"than {self.learning_rate:g}"
            )


class SetFeedEpoch(keras.callbacks.Callback):
    """Tells the training batches which epoch starts, so that they come in that epoch's
    (seed, epoch) order with its augmentation (feeds.py), also after a resume."""

    def __init__(self, start_epoch):
        super().__init__()
        self.start_epoch = start_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.start_epoch(epoch)


class EpochBackup(keras.callbacks.Callback):
    """The state after each completed epoch, to resume from after a kill.

    One file per epoch (weights and optimizer state), named by the number of
    epochs it completes, written under a temporary name and renamed: a kill at
    any moment leaves whole files only, each with its epoch in its name. The
    state of the model's random generators (dropout, RandomAffine), which
    Keras' weights files leave out, is written just before it, so a resumed
    run draws what the run left alone would have drawn. The two newest are
    kept, so workers killed a moment apart still share one (resume.py).
    `resume_epoch` (chosen by resume.agree_on_start) is restored in
    on_train_begin and fit() continues after it.
    """

    PATTERN = re.compile(r"epoch-(\d+)\.weights\.h5")
    KEEP = 2

    def __init__(self, folder: Path, resume_epoch: int = 0, on_restore=None):
        super().__init__()
        self.folder = Path(folder)
        self.resume_epoch = resume_epoch
        self.on_restore = on_restore

    def saved_epochs(self) -> dict[int, Path]:
        if not self.folder.is_dir():
            return {}
        found = (self.PATTERN.fullmatch(path.name) for path in self.folder.iterdir())
        return {int(match.group(1)): self.folder / match.group(0) for match in found if match}

    def on_train_begin(self, logs=None):
        if self.resume_epoch:
            restore_epoch(self.model, self.folder, self.resume_epoch)
            if self.on_restore:
                self.on_restore(self.resume_epoch)
        # Keras reads this after on_train_begin; None for a fresh start, also in a later stage's fit().
        self.model._initial_epoch = self.resume_epoch or None

    def on_epoch_end(self, epoch, logs=None):
        generators = seed_states(self.model)
        if generators:
            with atomic_path(self.folder / seeds_name(epoch + 1)) as temporary:
                np.save(temporary, np.stack([keras.ops.convert_to_numpy(v) for v in generators]))
        # Built in memory: a write that fails inside HDF5 crashes the process at exit (run_folder.weights_file_bytes).
        write_bytes(self.folder / weights_name(epoch + 1), weights_file_bytes(self.model))
        for completed, path in self.saved_epochs().items():
            if completed <= epoch + 1 - self.KEEP:
                path.unlink(missing_ok=True)
                (self.folder / seeds_name(completed)).unlink(missing_ok=True)


def seeds_name(epoch: int) -> str:
    return f"epoch-{epoch}.seeds.npy"


def seed_states(model: keras.Model) -> list:
    """The state variables of the model's random generators (keras.random.SeedGenerator), in model order."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


def restore_epoch(model: keras.Model, folder: Path, epoch: int) -> None:
    """Loads what EpochBackup saved after `epoch` completed epochs: weights, optimizer state, generators.

    The optimizer is built first: Keras skips the saved optimizer state of an unbuilt one."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(Path(folder) / f"epoch-{epoch}.weights.h5")
    seeds = Path(folder) / seeds_name(epoch)
    if seeds.exists():
        for variable, value in zip(seed_states(model), np.load(seeds), strict=True):
            variable.assign(value)


class StopOnInterrupt(keras.callbacks.Callback):
    """Turns a recorded Ctrl-C into KeyboardInterrupt at the next batch or epoch end (see interrupts.py)."""

    def on_train_batch_end(self, batch, logs=None):
        interrupts.raise_if_requested()

    def on_epoch_end(self, epoch, logs=None):
        interrupts.raise_if_requested()
