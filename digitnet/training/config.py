"""The configuration of one training run, validated before anything runs.

Each field carries its command-line help and choices once, in its metadata
(see `setting`); digitnet/training/flags.py turns the fields into argparse flags. This
module imports neither TensorFlow nor Keras: commands read it before parsing.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from digitnet.core.errors import ConfigError
from digitnet.core.images import DIGIT_WIDTHS
from digitnet.data.presets import AUGMENTATIONS, get_augmentation
from digitnet.data.sources import DATA_SOURCES
from digitnet.models.registry import REGISTRY, ModelSpec, get_spec

LR_SCHEDULES = ("constant", "cosine")
EXPORT_FORMATS = ("saved_model", "tflite")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
# How the images reach the model (digitnet/training/feeds.py): tf.data under a
# tf.distribute strategy, or in-memory arrays on any Keras backend.
FEEDS = ("tfdata", "arrays")
JIT_CHOICES = {"auto": "auto", "on": True, "off": False}
AUGMENT_PRESETS = tuple(AUGMENTATIONS)
# Fields added after runs were first saved, with the value that reproduces
# those runs: a saved run without the field matches a config with that value.
FIELDS_ADDED_LATER = {"warmup_epochs": 0, "augment": "none", "digit_width": None}
# Fields that change how a run is watched or where it goes, not what it computes:
# a run interrupted under other values of these may still be resumed.
# steps_per_execution changes how many batches run per call, not the updates:
# tests/test_training_guards.py checks it gives bit-identical weights and losses.
# feed: a finished run is the same recipe whichever feed trained it (a committee
# reuses members trained where only Keras on JAX runs); an unfinished run resumes
# only under the feed that started it (resume.py).
NOT_RESULT_FIELDS = frozenset({"output_dir", "verbose", "fresh", "export_formats", "export_dir", "strategy",
                               "jit_compile", "steps_per_execution", "feed"})
# TrainConfig fields that get no command-line flag (digitnet/training/flags.py skips them).
NOT_ON_CLI: frozenset[str] = frozenset()


def setting(default, help_text: str, **cli):
    """A TrainConfig field with its command-line metadata: its help text, and optionally
    `choices` (a constant of this module), `flag` (a name other than --field-name)
    and `flag_value` (with `flag`: a switch that sets the field to this value)."""
    return dataclasses.field(default=default, metadata={"help": help_text, **cli})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    arch: str = setting("lenet", "; ".join(f"{name}: {spec.summary}" for name, spec in REGISTRY.items()),
                        choices=REGISTRY)
    # None means the registered model's paper setting.
    epochs: int | None = setting(None, "default: the model's (the paper's 6 for classifiers, 20 for autoencoders)")
    batch_size: int | None = setting(None, "global batch size; default: the model's (the paper's 100 or 128)")
    learning_rate: float | None = setting(None, "Adam learning rate; default: the model's (the paper's 0.005)")
    seed: int = setting(0, "fixes initialisation and shuffling")
    deterministic: bool = setting(False, "turn on TensorFlow op determinism: same seed, bit-identical weights")
    output_dir: str | None = setting(None, "run folder; default runs/<arch>. Rerunning the same command "
                                           "resumes an interrupted run there")
    data_source: str = setting("embedded", "where the MNIST images come from: the copy embedded in digitnet, "
                                           "or TFDS (python -m digitnet.prepare_tfds prepares it)",
                               choices=DATA_SOURCES)
    data_dir: str | None = setting(None, "folder with the four MNIST-format IDX files (default: the embedded MNIST)")
    tfds_data_dir: str | None = setting(None, "TFDS (TensorFlow Datasets) data folder (with --data-source tfds)")
    train_examples: int | None = setting(None, "train on the first N training images only")
    test_examples: int | None = setting(None, "evaluate on the first N test images only")
    validation_split: float = setting(0.0, "hold out this fraction of the training images for validation")
    test_every_epoch: bool = setting(False, "evaluate on the test set after every epoch "
                                            "(history.csv gains val_* columns)")
    feed: str = setting("tfdata", "how the images reach the model: tfdata, the tf.data pipeline under --strategy; "
                                  "arrays, in-memory arrays shuffled by (seed, epoch) on one device, for any "
                                  "Keras backend (KERAS_BACKEND=jax without TensorFlow)", choices=FEEDS)
    strategy: str = setting("auto", "auto: MirroredStrategy over two or more GPUs, else the default strategy "
                                    "(one GPU or the CPU)", choices=STRATEGIES)
    # The all-losses log stays per batch whatever the value (BatchLossLog).
    steps_per_execution: int | None = setting(
        None, "batches per call into the compiled train step: the same updates and per-batch losses, "
              "fewer Python round trips (default 10 on one device, where it halves the BPNN's epoch; "
              "1 under mirrored/multi_worker)")
    jit_compile: str = setting("auto", "XLA compilation; auto: Keras' choice, on with GPUs, off on CPU "
                                       "(where it measured slower)", choices=JIT_CHOICES)
    lr_schedule: str = setting("cosine", "cosine (default) decays the learning rate to 0 over each training "
                                         "stage; constant is the paper's", choices=LR_SCHEDULES)
    warmup_epochs: float | None = setting(None, "raise the learning rate linearly from 0 over this many epochs "
                                                "(fractions too: 0.2 is a fifth of the first epoch) at the start "
                                                "of each stage; default: the model's (1 for conv_autoencoder and "
                                                "deep_cnn, 0.2 for fast, else 0)")
    augment: str | None = setting(None, "augmentation preset of the training images; default: the "
                                        "model's (affine for deep_cnn, none for the paper's models)",
                                  choices=AUGMENT_PRESETS)
    digit_width: int | None = setting(None, "stretch or squeeze every digit to this many pixels wide, centred, "
                                            "inside the model (its first layer, so exports carry it): "
                                            "Ciresan et al. 2011's width normalisation, 10-20 there; "
                                            "classifiers trained in one stage only; default: none")
    pretrain_epochs: int | None = setting(None, "epochs of the autoencoder pretraining (ae_classifier)")
    encoder: str | None = setting(None, "trained autoencoder .keras whose encoder ae_classifier uses "
                                        "instead of pretraining")
    fresh: bool = setting(False, "start over: move an earlier run in --output-dir aside")
    verbose: int = setting(1, "no progress bar", flag="--quiet", flag_value=0)
    export_formats: tuple[str, ...] = setting((), "after training, export in these formats", flag="--export",
                                              choices=EXPORT_FORMATS)
    export_dir: str = setting("saved_models", "where --export writes")

    def resolved(self, spec: ModelSpec | None = None) -> "TrainConfig":
        """Fills the paper's defaults from the registry and checks every value.

        `spec` is the model trained when it is not the registered `arch` (loop.train's
        spec): its settings fill the defaults, and `arch` only names the run."""
        spec = spec or get_spec(self.arch)
        epochs = spec.epochs if self.epochs is None else self.epochs
        warmup_epochs = self.warmup_epochs
        if warmup_epochs is None and isinstance(epochs, int) and spec.warmup_epochs >= epochs:
            # The registered warm-up leaves at least one epoch of a short run at full rate.
            warmup_epochs = max(epochs - 1, 0)
        elif warmup_epochs is None:
            warmup_epochs = spec.warmup_epochs
        config = dataclasses.replace(
            self,
            epochs=epochs,
            batch_size=spec.batch_size if self.batch_size is None else self.batch_size,
            learning_rate=spec.learning_rate if self.learning_rate is None else self.learning_rate,
            warmup_epochs=_whole_if_integral(warmup_epochs),
            augment=spec.augment if self.augment is None else self.augment,
            output_dir=self.output_dir or os.path.join("runs", self.arch),
            export_formats=tuple(self.export_formats),
        )
        config.validate(spec)
        return config

    def validate(self, spec: ModelSpec | None = None) -> None:
        """Checks every value; `spec` as in resolved()."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size}
        optional_positive = {"train_examples": self.train_examples, "test_examples": self.test_examples,
                             "pretrain_epochs": self.pretrain_epochs, "steps_per_execution": self.steps_per_execution}
        for name, value in {**positive, **{k: v for k, v in optional_positive.items() if v is not None}}.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, received {value!r}")
        if (not isinstance(self.warmup_epochs, (int, float)) or isinstance(self.warmup_epochs, bool)
                or not 0 <= self.warmup_epochs < float("inf")):
            raise ConfigError(f"--warmup-epochs must be a non-negative number, received {self.warmup_epochs!r}")
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
        if self.feed not in FEEDS:
            raise ConfigError(f"unknown --feed {self.feed!r}; choose one of {', '.join(FEEDS)}")
        unknown = [f for f in self.export_formats if f not in EXPORT_FORMATS]
        if unknown:
            raise ConfigError(f"--export takes some of {', '.join(EXPORT_FORMATS)} (comma-separated), "
                              f"received {','.join(self.export_formats)!r}")
        if self.encoder is not None and not Path(self.encoder).is_file():
            raise ConfigError(f"--encoder: no such file {self.encoder!r} (expected a trained autoencoder .keras)")
        if self.augment not in AUGMENT_PRESETS:
            raise ConfigError(f"unknown --augment {self.augment!r}; choose one of {', '.join(AUGMENT_PRESETS)}")
        if self.digit_width is not None:
            self._check_digit_width(spec or get_spec(self.arch))
        if self.feed == "arrays":
            self._check_arrays_feed()
        check_writable_folder(self.output_dir, "--output-dir")

    def _check_digit_width(self, spec: ModelSpec) -> None:
        if (not isinstance(self.digit_width, int) or isinstance(self.digit_width, bool)
                or self.digit_width not in DIGIT_WIDTHS):
            raise ConfigError(f"--digit-width must be a whole number of pixels from {DIGIT_WIDTHS.start} to "
                              f"{DIGIT_WIDTHS.stop - 1}, received {self.digit_width!r}")
        if not spec.one_stage_classifier:
            raise ConfigError(f"--digit-width applies to classifiers trained in one stage; {self.arch} is not one "
                              f"(received --digit-width {self.digit_width})")

    def _check_arrays_feed(self) -> None:
        if self.strategy not in ("auto", "default"):
            raise ConfigError(f"--feed arrays trains on one device; --strategy {self.strategy} needs --feed tfdata")
        if get_augmentation(self.augment).has_elastic:
            raise ConfigError(f"--feed arrays draws affine distortions and style edits only (layers.RandomAffine); "
                              f"--augment {self.augment} adds an elastic field, which only --feed tfdata draws")

    def result_fields(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in NOT_RESULT_FIELDS}


def _whole_if_integral(value):
    """1.0 -> 1: a whole number of epochs is saved (and fingerprinted) as the int it was before fractions."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


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
