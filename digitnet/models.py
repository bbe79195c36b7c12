"""Keras functional builders for the paper's models, and the one registry.

Every model takes float images [batch, 28, 28, 1] in [0, 1] (the pipeline and
the exporters normalise uint8 for it). Adding a model means adding a builder
and one REGISTRY entry; the tests are parametrized over REGISTRY.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import keras
from keras import layers

from digitnet.errors import ConfigError
from digitnet.tasks import CLASSIFICATION, RECONSTRUCTION, Task

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
CODE_UNITS = 6


def _require_positive(name: str, value) -> None:
    values = value if isinstance(value, (tuple, list)) else (value,)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in values):
        raise ConfigError(f"{name} must be a positive integer (or a non-empty tuple of them), received {value!r}")


def _images_input() -> keras.KerasTensor:
    return keras.Input(shape=INPUT_SHAPE, name="images")


def build_bpnn(hidden_units: int = 300) -> keras.Model:
    """The paper's back-propagation network: 784 -> 300 sigmoid -> 10."""
    _require_positive("hidden_units", hidden_units)
    inputs = _images_input()
    x = layers.Flatten()(inputs)
    x = layers.Dense(hidden_units, activation="sigmoid", name="hidden")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="bpnn")


def build_lenet() -> keras.Model:
    """LeNet-5 on 28x28: 'same' padding in C1 stands in for the original 32x32
    input, so C5 still sees 5x5 maps. ReLU and max pooling replace the original
    scaled tanh and trainable subsampling: same shape, better optimisation."""
    inputs = _images_input()
    x = layers.Conv2D(6, 5, padding="same", activation="relu", name="c1")(inputs)
    x = layers.MaxPooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="relu", name="c3")(x)
    x = layers.MaxPooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation="relu", name="c5")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(84, activation="relu", name="f6")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="lenet")


def _autoencoder(encoder: keras.Model, decoder: keras.Model, name: str) -> keras.Model:
    inputs = _images_input()
    return keras.Model(inputs, decoder(encoder(inputs)), name=name)


def build_autoencoder(hidden_units: tuple[int, ...] = (512, 256, 128), code_units: int = CODE_UNITS) -> keras.Model:
    """Dense autoencoder 784 -> hidden -> code -> mirrored hidden -> 784.

    The code layer is linear: a ReLU code of 6 units dies during training."""
    _require_positive("hidden_units", hidden_units)
    _require_positive("code_units", code_units)
    inputs = _images_input()
    x = layers.Flatten()(inputs)
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
    code = layers.Dense(code_units, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    code_input = keras.Input(shape=(code_units,), name="code")
    x = code_input
    for units in reversed(hidden_units):
        x = layers.Dense(units, activation="relu")(x)
    x = layers.Dense(28 * 28, activation="sigmoid")(x)
    decoder = keras.Model(code_input, layers.Reshape(INPUT_SHAPE)(x), name="decoder")
    return _autoencoder(encoder, decoder, "autoencoder")


def build_conv_autoencoder(filters: tuple[int, ...] = (16, 32, 64), code_units: int = CODE_UNITS) -> keras.Model:
    """Convolutional encoder, transposed-conv decoder, the same 6-unit linear code.

    With 6 code units the code is the bottleneck, not the filters: (16, 32, 64)
    reaches the test loss of (32, 64, 128) (0.1120 against a median of 0.1121,
    reports/reproduction.md) in a third of the time per epoch."""
    _require_positive("filters", filters)
    _require_positive("code_units", code_units)
    inputs = _images_input()
    x = inputs
    for index, count in enumerate(filters):
        x = layers.Conv2D(count, 3, strides=2 if index < 2 else 1, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    code = layers.Dense(code_units, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    code_input = keras.Input(shape=(code_units,), name="code")
    x = layers.Dense(256, activation="relu")(code_input)
    x = layers.Dense(7 * 7 * filters[-1], activation="relu")(x)
    x = layers.Reshape((7, 7, filters[-1]))(x)
    for count in reversed(filters[:2]):
        x = layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    decoder = keras.Model(code_input, outputs, name="decoder")
    return _autoencoder(encoder, decoder, "conv_autoencoder")


def build_ae_classifier(encoder: keras.Model | None = None, head_units: tuple[int, ...] = (128, 128)) -> keras.Model:
    """An autoencoder's encoder followed by an MLP head on its code.

    Training passes the encoder of a trained autoencoder (frozen first, then
    fine-tuned); without one, a fresh dense encoder is used."""
    _require_positive("head_units", head_units)
    if encoder is None:
        encoder = build_autoencoder().get_layer("encoder")
    if (not isinstance(encoder, keras.Model) or tuple(encoder.input_shape[1:]) != INPUT_SHAPE
            or len(encoder.output_shape) != 2):
        raise ConfigError(f"encoder must be a Keras model from {INPUT_SHAPE} images to a flat code, received "
                          f"{getattr(encoder, 'name', encoder)!r} with output shape {getattr(encoder, 'output_shape', None)}")
    inputs = _images_input()
    x = encoder(inputs)
    for units in head_units:
        x = layers.Dense(units, activation="relu")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="ae_classifier")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered model: how to build it, what it learns, the paper's settings."""

    build: Callable[..., keras.Model]
    task: Task
    epochs: int
    learning_rate: float
    batch_size: int
    summary: str
    # Registered autoencoder trained first; its encoder is passed to build().
    pretrain: str | None = None
    # Sub-model trained frozen first, then unfrozen for a fine-tuning stage.
    fine_tune_layer: str | None = None
    # Epochs over which the learning rate rises linearly from 0 at the start.
    warmup_epochs: int = 0


REGISTRY: dict[str, ModelSpec] = {
    "bpnn": ModelSpec(build_bpnn, CLASSIFICATION, 6, 0.005, 100, "784-300 sigmoid-10 MLP (the paper's BPNN)"),
    "lenet": ModelSpec(build_lenet, CLASSIFICATION, 6, 0.005, 100, "LeNet-5 style CNN"),
    "autoencoder": ModelSpec(build_autoencoder, RECONSTRUCTION, 20, 0.005, 128, "dense autoencoder, 6-unit code"),
    # Without the warm-up, 1 seed in 7 lost every ReLU of the third conv in the
    # first 200 batches at lr 0.005 and output the mean image from then on.
    "conv_autoencoder": ModelSpec(
        build_conv_autoencoder, RECONSTRUCTION, 20, 0.005, 128, "convolutional autoencoder, 6-unit code",
        warmup_epochs=1,
    ),
    "ae_classifier": ModelSpec(
        build_ae_classifier, CLASSIFICATION, 6, 0.005, 100,
        "classifier on a trained autoencoder's 6-unit code (the paper's 'Autoencoder' row)",
        pretrain="autoencoder", fine_tune_layer="encoder",
    ),
}


def get_spec(arch: str) -> ModelSpec:
    try:
        return REGISTRY[arch]
    except KeyError:
        raise ConfigError(f"unknown arch {arch!r}; choose one of {', '.join(REGISTRY)}") from None
