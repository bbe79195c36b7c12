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
