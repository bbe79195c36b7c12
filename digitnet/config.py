"""The configuration of one training run, validated before anything runs."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from digitnet.data import DATA_SOURCES
from digitnet.errors import ConfigError
from digitnet.registry import get_spec

# Fields that change how a run is watched or where it goes, not what it computes:
# a run interrupted under other values of these may still be resumed.
LR_SCHEDULES = ("constant", "cosine")
EXPORT_FORMATS = ("saved_model", "tflite")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
JIT_CHOICES = {"auto": "auto", "on": True, "off": False}
# Fields added after runs were first saved, with the value that reproduces
# those runs: a saved run without the field matches a config with that value.
FIELDS_ADDED_LATER = {"warmup_epochs": 0, "augment": "none"}
# steps_per_execution changes how many batches run per call, not the updates:
# tests/test_training_guards.py checks it gives bit-identical weights and losses.
NOT_RESULT_FIELDS = frozenset({"output_dir", "verbose", "fresh", "export_formats", "export_dir", "strategy",
                               "jit_compile", "steps_per_execution"})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    arch: str = "lenet"
    # None means the registered model's paper setting.
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    seed: int = 0
    deterministic: bool = False
    output_dir: str | None = None
    data_source: str = "embedded"
    data_dir: str | None = None
    tfds_data_dir: str | None = None
    train_examples: int | None = None
    test_examples: int | None = None
    validation_split: float = 0.0
    # Evaluate on the test set after every epoch (history gains val_* columns).
    test_every_epoch: bool = False
    strategy: str = "auto"
    # Batches per call into the compiled train step; None: 10 on one device (it
    # halves the BPNN's epoch), 1 under a multi-replica strategy. The all-losses
    # log stays per batch either way (BatchLossLog).
    steps_per_execution: int | None = None
    # XLA: "auto" is Keras' choice (on with GPUs, off on CPU, where it measured slower).
    jit_compile: str = "auto"
    # 'cosine' decays the learning rate to 0 over each training stage.
    lr_schedule: str = "cosine"
    # Linear learning-rate warm-up at the start of each stage; None: the model's registered value.
    warmup_epochs: int | None = None
    # Augmentation preset of the training images (augment.py); None: the model's registered one.
    augment: str | None = None
    # Epochs of the autoencoder pretraining (models with a `pretrain` entry).
    pretrain_epochs: int | None = None
    # A trained autoencoder (.keras) whose encoder replaces the pretraining.
    encoder: str | None = None
    fresh: bool = False
    verbose: int = 1
    export_formats: tuple[str, ...] = ()
    export_dir: str = "saved_models"

    def resolved(self) -> "TrainConfig":
        """Fills the paper's defaults from the registry and checks every value."""
        spec = get_spec(self.arch)
        epochs = spec.epochs if self.epochs is None else self.epochs
        warmup_epochs = self.warmup_epochs
        if warmup_epochs is None and isinstance(epochs, int):
            # The registered warm-up leaves at least one epoch of a short run at full rate.
            warmup_epochs = max(min(spec.warmup_epochs, epochs - 1), 0)
        config = dataclasses.replace(
            self,
            epochs=epochs,
            batch_size=spec.batch_size if self.batch_size is None else self.batch_size,
            learning_rate=spec.learning_rate if self.learning_rate is None else self.learning_rate,
            warmup_epochs=warmup_epochs,
            augment=spec.augment if self.augment is None else self.augment,
            output_dir=self.output_dir or os.path.join("runs", self.arch),
            export_formats=tuple(self.export_formats),
        )
        config.validate()
        return config

    def validate(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size}
        optional_positive = {"train_examples": self.train_examples, "test_examples": self.test_examples,
                             "pretrain_epochs": self.pretrain_epochs, "steps_per_execution": self.steps_per_execution}
        for name, value in {**positive, **{k: v for k, v in optional_positive.items() if v is not None}}.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, received {value!r}")
        if not isinstance(self.warmup_epochs, int) or isinstance(self.warmup_epochs, bool) or self.warmup_epochs < 0:
            raise ConfigError(f"--warmup-epochs must be a non-negative integer, received {self.warmup_epochs!r}")
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(f"--warmup-epochs must be fewer than --epochs ({self.epochs}), "
                              f"received {self.warmup_epochs}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < float("inf")):
            raise ConfigError(f"--learning-rate must be a positive number, received {self.learning_rate!r}")
        if not 0.0 <= self.validation_split < 1.0:
            raise ConfigError(f"--validation-split must be in [0, 1), received {self.validation_split!r}")
        if self.test_every_epoch and self.validation_split > 0:
            raise ConfigError("--test-every-epoch and --validation-split both choose the per-epoch evaluation; "
                              f"give one (received --validation-split {self.validation_split})")
        if self.jit_compile not in JIT_CHOICES:
            raise ConfigError(f"unknown --jit-compile {self.jit_compile!r}; choose one of {', '.join(JIT_CHOICES)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown --lr-schedule {self.lr_schedule!r}; choose one of {', '.join(LR_SCHEDULES)}")
        if self.data_source not in DATA_SOURCES:
            raise ConfigError(f"unknown --data-source {self.data_source!r}; choose one of {', '.join(DATA_SOURCES)}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown --strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        unknown = [f for f in self.export_formats if f not in EXPORT_FORMATS]
        if unknown:
            raise ConfigError(f"--export takes some of {', '.join(EXPORT_FORMATS)} (comma-separated), "
                              f"received {','.join(self.export_formats)!r}")
        if self.encoder is not None and not Path(self.encoder).is_file():
            raise ConfigError(f"--encoder: no such file {self.encoder!r} (expected a trained autoencoder .keras)")
        from digitnet.augment import get_augmentation

        get_augmentation(self.augment)
        check_writable_folder(self.output_dir, "--output-dir")

    def result_fields(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in NOT_RESULT_FIELDS}


def check_writable_folder(folder: str | os.PathLike, flag: str) -> None:
    """Refuses a folder that is a file or cannot be created or written."""
    path = Path(folder)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {folder!r} is a file, expected a folder")
    if not existing.is_dir():
        raise ConfigError(f"{flag} {folder!r} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {folder!r} is not writable ({existing} refuses writes)")
