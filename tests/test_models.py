import keras
import numpy as np
import pytest

from digitnet.core.errors import ConfigError
from digitnet.data.pipeline import make_dataset
from digitnet.models.builders import build_ae_classifier, build_autoencoder, build_bpnn, build_conv_autoencoder
from digitnet.models.registry import REGISTRY, get_spec

EXPECTED_OUTPUT = {"classification": (None, 10), "reconstruction": (None, 28, 28, 1)}


@pytest.mark.parametrize("arch", list(REGISTRY))
def test_every_model_builds_and_trains_a_step(arch, small_mnist):
    spec = REGISTRY[arch]
    keras.utils.set_random_seed(0)
    model = spec.build()
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == EXPECTED_OUTPUT[spec.task.name]
    model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate), loss=spec.task.loss, metrics=list(spec.task.metrics))
    dataset = make_dataset(small_mnist.train_images[:16], small_mnist.train_labels[:16], spec.task, 8)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    outputs = model.predict(next(iter(dataset))[0], verbose=0)
    assert outputs.shape[1:] == EXPECTED_OUTPUT[spec.task.name][1:]
    if spec.task.name == "classification":
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)


def _dense(inputs: int, units: int) -> int:
    return inputs * units + units


def _conv(size: int, channels_in: int, filters: int, bias: bool = True) -> int:
    return size * size * channels_in * filters + (filters if bias else 0)


def _batch_norm(channels: int) -> int:
    return 4 * channels  # gamma, beta, moving mean, moving variance


# Each registered model's parameters counted by hand from its layers as builders.py defines them (sizes after
# each layer in the comments), so a changed layer, size or padding shows here; never read back from a model.
DENSE_ENCODER = _dense(784, 512) + _dense(512, 256) + _dense(256, 128) + _dense(128, 6)
PARAMETERS = {
    "bpnn": _dense(784, 300) + _dense(300, 10),  # 784-300-10: 238,510, as in the paper
    # c1 5x5 'same' 28x28x6, s2 14x14, c3 5x5 10x10x16, s4 5x5, c5 5x5 1x1x120, f6 84, 10
    "lenet": _conv(5, 1, 6) + _conv(5, 6, 16) + _conv(5, 16, 120) + _dense(120, 84) + _dense(84, 10),
    # 784-512-256-128-6 and back: 6-128-256-512-784
    "autoencoder": DENSE_ENCODER + _dense(6, 128) + _dense(128, 256) + _dense(256, 512) + _dense(512, 784),
    # encoder: 3x3 convs 16 (stride 2: 14x14), 32 (stride 2: 7x7), 64 (7x7x64 = 3,136), 256, code 6;
    # decoder: 6-256-3,136, transposed 3x3 convs 64->32 and 32->16, 3x3 conv to 1
    "conv_autoencoder": (_conv(3, 1, 16) + _conv(3, 16, 32) + _conv(3, 32, 64) + _dense(7 * 7 * 64, 256)
                         + _dense(256, 6) + _dense(6, 256) + _dense(256, 7 * 7 * 64) + _conv(3, 64, 32)
                         + _conv(3, 32, 16) + _conv(3, 16, 1)),
    # the dense autoencoder's encoder, then 6-128-128-10
    "ae_classifier": DENSE_ENCODER + _dense(6, 128) + _dense(128, 128) + _dense(128, 10),
    # convs without bias, each followed by batch norm: 3x3 26x26x32, 3x3 24x24x32, 5x5 stride 2 12x12x32,
    # 3x3 10x10x64, 3x3 8x8x64, 5x5 stride 2 4x4x64, 4x4 1x1x128, dense 10
    "deep_cnn": (sum(_conv(size, cin, cout, bias=False) + _batch_norm(cout) for size, cin, cout in
                     [(3, 1, 32), (3, 32, 32), (5, 32, 32), (3, 32, 64), (3, 64, 64), (5, 64, 64), (4, 64, 128)])
                 + _dense(128, 10)),
    # rescaling (no parameters), 5x5 conv 24x24x24, pool 12x12, 3x3 conv 10x10x32, pool 5x5 (800), 256, 10
    "fast": _conv(5, 1, 24) + _conv(3, 24, 32) + _dense(5 * 5 * 32, 256) + _dense(256, 10),
}


def test_every_registered_model_is_counted_by_hand():
    assert set(PARAMETERS) == set(REGISTRY)
    assert PARAMETERS["bpnn"] == 238_510


@pytest.mark.parametrize("arch", list(REGISTRY))
def test_each_model_has_the_parameters_of_its_architecture(arch):
    assert REGISTRY[arch].build().count_params() == PARAMETERS[arch]


@pytest.mark.parametrize("arch", [name for name, spec in REGISTRY.items() if spec.task.name == "reconstruction"])
def test_autoencoders_have_standalone_encoder_and_decoder(arch):
    model = REGISTRY[arch].build()
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    codes = encoder.predict(images, verbose=0)
    assert codes.shape == (3, 6)
    reconstructions = decoder.predict(codes, verbose=0)
    assert reconstructions.shape == (3, 28, 28, 1)
    assert 0.0 <= reconstructions.min() and reconstructions.max() <= 1.0
    np.testing.assert_allclose(model.predict(images, verbose=0), reconstructions, atol=1e-5)


def test_ae_classifier_reuses_a_given_encoder():
    encoder = build_conv_autoencoder().get_layer("encoder")
    classifier = build_ae_classifier(encoder=encoder)
    assert classifier.get_layer("encoder") is encoder


@pytest.mark.parametrize(
    "build, kwargs, received",
    [
        (build_bpnn, {"hidden_units": 0}, "0"),
        (build_bpnn, {"hidden_units": 2.5}, "2.5"),
        (build_autoencoder, {"code_units": -1}, "-1"),
        (build_autoencoder, {"hidden_units": ()}, r"\(\)"),
        (build_conv_autoencoder, {"filters": (32, 0)}, r"\(32, 0\)"),
        (build_ae_classifier, {"head_units": (0,)}, r"\(0,\)"),
    ],
)
def test_builders_reject_bad_arguments_repeating_the_value(build, kwargs, received):
    with pytest.raises(ConfigError, match=f"{next(iter(kwargs))} must be .* received {received}"):
        build(**kwargs)


def test_ae_classifier_rejects_a_non_encoder():
    with pytest.raises(ConfigError, match="encoder must be a Keras model"):
        build_ae_classifier(encoder=build_autoencoder())


def test_unknown_arch_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown arch 'resnet'; choose one of bpnn, lenet"):
        get_spec("resnet")
