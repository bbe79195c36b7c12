"""The one registry: every model digitnet trains, its builder, task and settings.

It imports neither TensorFlow nor Keras, so commands can check their flags
against it before loading either: builders (builders.py) are named here and
loaded on first use; tasks (tasks.py) need neither. Nothing else branches on a model's
name; the tests are parametrized over REGISTRY.

A ModelSpec outside the REGISTRY, whose builder is a function, trains through
the same loop (digitnet.training.loop.train(config, spec=...)): that is how
digitnet trains models that are not MNIST classifiers of their own, such as
the not-a-digit detector (digitnet/experiments/detector.py).
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

from digitnet.core.errors import ConfigError
from digitnet.core.images import INPUT_SHAPE, NUM_CLASSES
from digitnet.models import tasks


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model digitnet trains: its builder and task (by name), and its default training settings."""

    # A function name in builders.py (registered models), or the function itself (any other model).
    builder: str | Callable
    task_name: str
    epochs: int
    learning_rate: float
    batch_size: int
    summary: str
    # Registered autoencoder trained first; its encoder is passed to build().
    pretrain: str | None = None
    # Sub-model trained frozen first, then unfrozen for a fine-tuning stage.
    frozen_submodel: str | None = None
    # Epochs over which the learning rate rises linearly from 0 at the start (fractions too).
    warmup_epochs: float = 0
    # Adam's beta_1 and beta_2 (Keras' defaults unless a recipe says otherwise).
    adam_betas: tuple[float, float] = (0.9, 0.999)
    # Augmentation preset of the training images (augment.py, config.AUGMENT_PRESETS).
    augment: str = "none"
    # Run-folder PNGs (figures.py) the reproduction report copies from the model's first seed.
    report_figures: tuple[str, ...] = ()

    def build(self, **kwargs):
        """The Keras model (loads Keras)."""
        if callable(self.builder):
            return self.builder(**kwargs)
        return getattr(importlib.import_module("digitnet.models.builders"), self.builder)(**kwargs)

    @property
    def one_stage_classifier(self) -> bool:
        """A classifier trained in one stage: no autoencoder pretraining, no frozen sub-model."""
        return self.task_name == "classification" and self.pretrain is None and self.frozen_submodel is None

    @property
    def task(self):
        """The tasks.Task record (tasks.py; TensorFlow loads when it first serves a model)."""
        return getattr(tasks, self.task_name.upper())


REGISTRY: dict[str, ModelSpec] = {
    # The paper's models at the paper's settings (Adam, lr 0.005; batch 100 or 128).
    "bpnn": ModelSpec("build_bpnn", "classification", 6, 0.005, 100, "784-300 sigmoid-10 MLP (the paper's BPNN)"),
    "lenet": ModelSpec(
        "build_lenet", "classification", 6, 0.005, 100, "LeNet-5 style CNN",
        report_figures=("confusion_matrix.png", "misclassified.png"),
    ),
    "autoencoder": ModelSpec(
        "build_autoencoder", "reconstruction", 20, 0.005, 128, "dense autoencoder, 6-unit code",
        report_figures=("reconstructions.png",),
    ),
    # The warm-up keeps every ReLU of the third convolution alive through the
    # first batches at lr 0.005 (without it, one seed in seven collapsed).
    "conv_autoencoder": ModelSpec(
        "build_conv_autoencoder", "reconstruction", 20, 0.005, 128, "convolutional autoencoder, 6-unit code",
        warmup_epochs=1, report_figures=("reconstructions.png",),
    ),
    "ae_classifier": ModelSpec(
        "build_ae_classifier", "classification", 6, 0.005, 100,
        "classifier on a trained autoencoder's 6-unit code (the paper's 'Autoencoder' row)",
        pretrain="autoencoder", frozen_submodel="encoder",
    ),
    # Beyond the paper: settings from the literature on such nets, chosen on a
    # validation split (reports/README.md, "Choosing deep_cnn's recipe").
    "deep_cnn": ModelSpec(
        "build_deep_cnn", "classification", 20, 0.003, 128,
        "batch-normalised CNN with dropout, trained on randomly rotated, scaled, sheared and shifted digits",
        warmup_epochs=1, augment="affine",
    ),
    # Time to 99 %: the fastest published recipe's net and optimiser (Adam lr 0.01,
    # betas (0.7, 0.9), batch 256, one epoch, a one-cycle-like warm-up and cosine decay).
    "fast": ModelSpec(
        "build_fast", "classification", 1, 0.01, 256, "small CNN that reaches 99 % in one epoch (time to accuracy)",
        warmup_epochs=0.2, adam_betas=(0.7, 0.9),
    ),
}


def get_spec(arch: str) -> ModelSpec:
    try:
        return REGISTRY[arch]
    except KeyError:
        raise ConfigError(f"unknown arch {arch!r}; choose one of {', '.join(REGISTRY)}") from None


def describe_model(model) -> tuple[tasks.Task, str]:
    """(task, summary) of any Keras model on 28x28x1 images: the registered
    model's when digitnet trained it (its name is the arch), otherwise read
    from what it computes: 10 outputs classify, an image-shaped output
    reconstructs."""
    if model.name in REGISTRY:
        return REGISTRY[model.name].task, REGISTRY[model.name].summary
    input_shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    output_shape = tuple(model.output_shape[1:]) if not isinstance(model.output_shape, list) else None
    if input_shape != INPUT_SHAPE:
        raise ConfigError(f"model {model.name!r} takes inputs of shape {model.input_shape}, expected "
                          f"(None, {', '.join(map(str, INPUT_SHAPE))})")
    if output_shape == (NUM_CLASSES,):
        return tasks.CLASSIFICATION, f"Keras classifier {model.name!r} ({model.count_params():,} parameters)"
    if output_shape == INPUT_SHAPE:
        return tasks.RECONSTRUCTION, f"Keras image-to-image model {model.name!r} ({model.count_params():,} parameters)"
    raise ConfigError(f"model {model.name!r} outputs shape {model.output_shape}: neither {NUM_CLASSES} class "
                      f"probabilities nor a {INPUT_SHAPE} image")
