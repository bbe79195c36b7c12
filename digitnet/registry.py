"""The one registry: every model digitnet trains, its builder, task and settings.

It imports neither TensorFlow nor Keras, so commands can check their flags
against it before loading either: builders (models.py) and tasks (tasks.py)
are named here and loaded on first use. Nothing else branches on a model's
name; the tests are parametrized over REGISTRY.
"""
from __future__ import annotations

import dataclasses
import importlib

from digitnet.errors import ConfigError

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
# Mean and standard deviation of the 60,000 MNIST training images' pixels in [0, 1].
MNIST_PIXEL_MEAN, MNIST_PIXEL_STD = 0.1307, 0.3081
# Ink widths in pixels that a model's input may normalise digits to (layers.DigitWidth, --digit-width).
DIGIT_WIDTHS = range(4, 29)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered model: its builder and task (by name), and its default training settings."""

    builder: str
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
        return getattr(importlib.import_module("digitnet.models"), self.builder)(**kwargs)

    @property
    def one_stage_classifier(self) -> bool:
        """A classifier trained in one stage: no autoencoder pretraining, no frozen sub-model."""
        return self.task_name == "classification" and self.pretrain is None and self.frozen_submodel is None

    @property
    def task(self):
        """The tasks.Task record (tasks.py; TensorFlow loads when it first serves a model)."""
        return getattr(importlib.import_module("digitnet.tasks"), self.task_name.upper())


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
