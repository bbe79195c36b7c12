import time

import numpy as np
import pytest

from digitnet import cli, train
from digitnet.data import load_digits
from digitnet.errors import DataError
from digitnet.prepare_tfds import prepare_tfds_mnist


def test_unprepared_tfds_fails_fast_with_instructions(tmp_path):
    started = time.monotonic()
    with pytest.raises(DataError, match="no prepared 'mnist'.*python -m digitnet.prepare_tfds.*--data-source embedded"):
        load_digits("tfds", tfds_data_dir=str(tmp_path))
    assert time.monotonic() - started < 30  # tfds.load would retry the network for minutes


@pytest.fixture(scope="module")
def prepared_tfds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tfds")
    prepare_tfds_mnist(str(folder))
    return str(folder)


def test_prepared_tfds_holds_the_embedded_mnist(prepared_tfds, mnist):
    from_tfds = load_digits("tfds", tfds_data_dir=prepared_tfds)
    for split in ("train", "test"):
        images, labels = getattr(from_tfds, f"{split}_images"), getattr(from_tfds, f"{split}_labels")
        reference_images, reference_labels = getattr(mnist, f"{split}_images"), getattr(mnist, f"{split}_labels")
        assert images.shape == reference_images.shape and images.dtype == np.uint8
        # TFDS stores the examples in its own order: compare as multisets.
        assert np.array_equal(np.bincount(labels), np.bincount(reference_labels))
        key = np.lexsort(images.reshape(len(images), -1).T)
        reference_key = np.lexsort(reference_images.reshape(len(reference_images), -1).T)
        np.testing.assert_array_equal(images[key], reference_images[reference_key])
        np.testing.assert_array_equal(labels[key], reference_labels[reference_key])


def test_train_cli_on_tfds(prepared_tfds, tmp_path, capsys):
    argv = ["--arch", "bpnn", "--data-source", "tfds", "--tfds-data-dir", prepared_tfds, "--output-dir", str(tmp_path),
            "--train-examples", "200", "--test-examples", "100", "--epochs", "1", "--quiet"]
    assert cli.run_command(train.main, argv) == 0
    assert "test accuracy" in capsys.readouterr().out
