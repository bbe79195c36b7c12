"""Keras functional builders of the registered models (registry.py names them).

Every model takes float images [batch, 28, 28, 1] in [0, 1] (the pipeline and
the exporters normalise uint8 for it). Adding a model means adding a builder
here and one REGISTRY entry in registry.py; the tests are parametrized over REGISTRY.
"""
from __future__ import annotations

import keras
from keras import layers

from digitnet.core.errors import ConfigError
from digitnet.core.images import INPUT_SHAPE, MNIST_PIXEL_MEAN, MNIST_PIXEL_STD, NUM_CLASSES
from digitnet.models.layers import DigitWidth

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

    With 6 code units the code is the bottleneck, not the filters, so the
    default filters are the smallest that reach the loss of wider ones
    (reports/README.md)."""
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


def _conv_bn_relu(x, filters: int, size: int, strides: int = 1, padding: str = "valid"):
    x = layers.Conv2D(filters, size, strides=strides, padding=padding, use_bias=False)(x)
    # Momentum 0.9: the moving statistics settle within one short epoch, not ten.
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.Activation("relu")(x)


def build_deep_cnn(filters: tuple[int, int, int] = (32, 64, 128), dropout: float = 0.4) -> keras.Model:
    """A batch-normalised CNN of about 330,000 parameters: two blocks of
    conv 3x3, conv 3x3, conv 5x5 stride 2 (a learned pooling) with
    filters[0] and filters[1] maps, then a 4x4 conv to filters[2] features and
    softmax; dropout after each block: a design that, trained on distorted
    digits, is among the best single models on MNIST (reports/README.md)."""
    _require_positive("filters", filters)
    if len(filters) != 3:
        raise ConfigError(f"filters must hold 3 positive integers, received {filters!r}")
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be a number in [0, 1), received {dropout!r}")
    inputs = _images_input()
    x = inputs
    for count in filters[:2]:
        x = _conv_bn_relu(x, count, 3)
        x = _conv_bn_relu(x, count, 3)
        x = _conv_bn_relu(x, count, 5, strides=2, padding="same")
        x = layers.Dropout(dropout)(x)
    x = _conv_bn_relu(x, filters[2], 4)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="deep_cnn")


def build_fast(filters: tuple[int, int] = (24, 32), dense_units: int = 256) -> keras.Model:
    """The small CNN of the fastest published MNIST recipe (tuomaso/train_mnist_fast):
    conv 5x5 to filters[0] maps, max pool, conv 3x3 to filters[1] maps, max
    pool, dense_units, softmax. Pooling comes before each ReLU (the same
    function, a quarter of the ReLUs). One epoch of it reaches about 99 %."""
    _require_positive("filters", filters)
    if len(filters) != 2:
        raise ConfigError(f"filters must hold 2 positive integers, received {filters!r}")
    _require_positive("dense_units", dense_units)
    inputs = _images_input()
    # Standardised pixels, as the PyTorch recipe feeds them: chosen on a validation split
    # (reports/README.md, "Choosing fast's input scale").
    x = layers.Rescaling(1 / MNIST_PIXEL_STD, offset=-MNIST_PIXEL_MEAN / MNIST_PIXEL_STD, name="standardize")(inputs)
    for index, (count, size) in enumerate(zip(filters, (5, 3)), start=1):
        x = layers.Conv2D(count, size, name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
        x = layers.Activation("relu", name=f"relu{index}")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="fast")


def with_digit_width(model: keras.Model, width: int) -> keras.Model:
    """`model` reading digits normalised to `width` pixels wide (layers.DigitWidth) first;
    the result keeps the model's name, so it is still the registered model."""
    inputs = _images_input()
    name = model.name
    model.name = f"{name}_on_width_{width}"
    return keras.Model(inputs, model(DigitWidth(width, name="digit_width")(inputs)), name=name)
