import numpy as np
import pytest

from digitnet.data.pipeline import epoch_variable, make_dataset
from digitnet.data.sources import split_validation
from digitnet.models.tasks import CLASSIFICATION, RECONSTRUCTION


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


def test_each_epoch_order_is_a_function_of_seed_and_epoch_only(small_mnist):
    """A resumed run rebuilds its dataset in a new process: epoch k must give the same order there."""
    def epoch_labels(seed, epoch, dataset=None):
        clock = epoch_variable()
        dataset = dataset or make_dataset(small_mnist.train_images, small_mnist.train_labels, CLASSIFICATION, 50,
                                          shuffle_seed=seed, epoch=clock)
        clock.assign(epoch)
        return _epoch_labels(dataset)

    epoch_zero, epoch_one = epoch_labels(7, 0), epoch_labels(7, 1)
    assert not np.array_equal(epoch_zero, epoch_one)
    assert sorted(epoch_zero) == sorted(small_mnist.train_labels)
    # Epoch 1 of a fresh dataset (as after a resume) without iterating epoch 0 first.
    np.testing.assert_array_equal(epoch_one, epoch_labels(7, 1))
    assert not np.array_equal(epoch_zero, epoch_labels(8, 0))
    # The clock, not the number of passes, decides the order.
    clock = epoch_variable()
    dataset = make_dataset(small_mnist.train_images, small_mnist.train_labels, CLASSIFICATION, 50,
                           shuffle_seed=7, epoch=clock)
    assert np.array_equal(_epoch_labels(dataset), _epoch_labels(dataset))
    clock.assign(1)
    np.testing.assert_array_equal(_epoch_labels(dataset), epoch_one)


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
    dataset = make_dataset(images, labels, CLASSIFICATION, batch, shuffle_seed=3,
                           epoch=epoch_variable())
    batches = list(dataset)
    assert [len(y) for _, y in batches] == [32] * 7 + [26]
    indices = np.concatenate([np.rint(x.numpy()[:, 0, 0, 0] * 255) + 256 * np.rint(x.numpy()[:, 0, 1, 0] * 255)
                              for x, _ in batches]).astype(int)
    assert sorted(indices) == list(range(count)) and list(indices) != list(range(count))
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), indices % 10)



def _epoch(images, labels, epoch, augment="affine", seed=5):
    """(images as the model receives them [n, 28, 28], labels) of one epoch of a fresh training dataset."""
    clock = epoch_variable()
    dataset = make_dataset(images, labels, CLASSIFICATION, 64, shuffle_seed=seed, epoch=clock, augment=augment)
    clock.assign(epoch)
    batches = list(dataset)
    return (np.concatenate([x.numpy()[..., 0] for x, _ in batches]),
            np.concatenate([y.numpy() for _, y in batches]))


def _augmented_by_image(images, labels, epoch, seed=5):
    """One augmented epoch, put back in the order of `images` (the plain epoch of the same seed and epoch
    tells which image each position holds); asserts that every label stayed with its image."""
    plain, plain_labels = _epoch(images, labels, epoch, augment="none", seed=seed)
    index = {image.tobytes(): i for i, image in enumerate(images)}
    order = np.array([index[np.rint(image * 255).astype(np.uint8).tobytes()] for image in plain])
    np.testing.assert_array_equal(plain_labels, labels[order])
    augmented, augmented_labels = _epoch(images, labels, epoch, seed=seed)
    np.testing.assert_array_equal(augmented_labels, labels[order])  # the same order, each label unchanged
    by_image = np.empty_like(augmented)
    by_image[order] = augmented
    return by_image


def _differ(first, second) -> float:
    """The fraction of images that differ between two epochs."""
    return float(np.mean([not np.array_equal(a, b) for a, b in zip(first, second)]))


def test_augmentation_is_drawn_from_seed_and_epoch_and_keeps_each_label(small_mnist):
    images, labels = small_mnist.train_images[:200], small_mnist.train_labels[:200]
    assert len({image.tobytes() for image in images}) == len(images)  # each position can be traced to its image
    augmented = _augmented_by_image(images, labels, 1)
    # Each image distorted, but still its digit, in the model's range.
    original = images / np.float32(255)
    assert augmented.dtype == np.float32 and 0 <= augmented.min() and augmented.max() <= 1
    assert np.mean(np.abs(augmented - original).reshape(len(images), -1).max(axis=1) > 0.1) > 0.9
    assert np.median([np.corrcoef(a.ravel(), o.ravel())[0, 1] for a, o in zip(augmented, original)]) > 0.5
    # The same seed and epoch in a fresh dataset (as after a resume): the same images, bit for bit.
    np.testing.assert_array_equal(_augmented_by_image(images, labels, 1), augmented)
    # Another epoch, or another seed: each image distorted anew.
    assert _differ(_augmented_by_image(images, labels, 2), augmented) > 0.9
    assert _differ(_augmented_by_image(images, labels, 1, seed=6), augmented) > 0.9
    # One digit 128 times, so the shuffle cannot tell epochs or seeds apart: the distortions themselves must.
    same = np.repeat(images[:1], 128, axis=0), np.repeat(labels[:1], 128)
    first = _epoch(*same, 1)[0]
    assert _differ(_epoch(*same, 2)[0], first) > 0.9 and _differ(_epoch(*same, 1, seed=6)[0], first) > 0.9
