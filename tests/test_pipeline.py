import numpy as np
import pytest

from digitnet.pipeline import make_dataset, split_validation
from digitnet.tasks import CLASSIFICATION, RECONSTRUCTION


def test_classification_batches(small_mnist):
    dataset = make_dataset(small_mnist.train_images, small_mnist.train_labels, CLASSIFICATION, 64)
    images, labels = next(iter(dataset))
    assert images.shape == (64, 28, 28, 1) and images.dtype.name == "float32"
    assert labels.shape == (64,) and labels.dtype.name == "int32"
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    np.testing.assert_allclose(images.numpy()[..., 0], small_mnist.train_images[:64] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(labels.numpy(), small_mnist.train_labels[:64])
    sizes = [len(batch[1]) for batch in dataset]
    assert sizes == [64, 64, 64, 64, 44]


def test_reconstruction_targets_are_the_images(small_mnist):
    images, targets = next(iter(make_dataset(small_mnist.train_images, small_mnist.train_labels, RECONSTRUCTION, 32)))
    np.testing.assert_array_equal(images.numpy(), targets.numpy())


def _epoch_labels(dataset):
    return np.concatenate([labels.numpy() for _, labels in dataset])


def test_shuffle_follows_the_seed_and_changes_every_epoch(small_mnist):
    def dataset(seed):
        return make_dataset(small_mnist.train_images, small_mnist.train_labels, CLASSIFICATION, 50,
                            shuffle=True, shuffle_seed=seed)

    first = dataset(7)
    epoch_one, epoch_two = _epoch_labels(first), _epoch_labels(first)
    assert not np.array_equal(epoch_one, epoch_two)
    assert sorted(epoch_one) == sorted(small_mnist.train_labels)
    np.testing.assert_array_equal(epoch_one, _epoch_labels(dataset(7)))
    assert not np.array_equal(epoch_one, _epoch_labels(dataset(8)))


@pytest.mark.parametrize("fraction, held_out", [(0.0, 0), (0.1, 30), (0.5, 150)])
def test_validation_split_holds_out_the_tail(small_mnist, fraction, held_out):
    (train_x, train_y), validation = split_validation(small_mnist.train_images, small_mnist.train_labels, fraction)
    assert len(train_x) == 300 - held_out
    if held_out:
        np.testing.assert_array_equal(validation[0], small_mnist.train_images[-held_out:])
    else:
        assert validation is None


def test_a_shuffled_epoch_holds_every_image_once_with_its_own_label():
    count, batch = 250, 32
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(count) % 256, np.arange(count) // 256  # each image carries its index
    labels = (np.arange(count) % 10).astype(np.uint8)
    dataset = make_dataset(images, labels, CLASSIFICATION, batch, shuffle=True, shuffle_seed=3)
    batches = list(dataset)
    assert [len(y) for _, y in batches] == [32] * 7 + [26]
    indices = np.concatenate([np.rint(x.numpy()[:, 0, 0, 0] * 255) + 256 * np.rint(x.numpy()[:, 0, 1, 0] * 255)
                              for x, _ in batches]).astype(int)
    assert sorted(indices) == list(range(count)) and list(indices) != list(range(count))
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), indices % 10)
