"""The tf.data input pipeline: uint8 arrays in, normalised batches out."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from digitnet.core.images import to_model_input
from digitnet.data.augment import augment_batch


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    task,  # a models.tasks.Task: its make_targets pairs inputs with targets
    batch_size: int,
    *,
    shuffle_seed: int | None = None,
    epoch: tf.Variable | None = None,
    augment: str = "none",
    map_parallelism: int | None = None,
    prefetch_batches: int = 2,
) -> tf.data.Dataset:
    """Batches of (inputs, targets) for `task`.

    With `epoch` (an int64 variable that training sets at the start of every
    epoch, see callbacks.SetFeedEpoch) the examples are shuffled: each epoch's
    permutation is drawn from (shuffle_seed, epoch) alone, so a run resumed in
    a new process sees the same order in every epoch as one left alone.
    Without it, the examples keep their order. `augment` names a preset of
    augment.py applied to each training batch, seeded from (shuffle_seed,
    epoch, batch index): new every epoch, the same after a resume.

    No stage works image by image: each epoch gathers the whole uint8 array in
    its order in one op and hands out consecutive slices as batches (the last
    one smaller, as with Dataset.batch), each converted to float at once.
    tf.data's autotuning is off and the map and prefetch sizes are fixed:
    autotuning's periodic re-planning stalls training epochs on few cores
    (benchmarks/README.md).
    """
    if augment != "none" and epoch is None:
        raise ValueError("augmentation needs the epoch variable that seeds it")
    seed = tf.constant(shuffle_seed or 0, tf.int64)
    dataset = _epoch_batches(images, labels, batch_size, seed, epoch)
    if augment != "none":
        dataset = dataset.enumerate().map(
            lambda index, batch: _augmented(batch, augment, tf.stack([seed, epoch.read_value()]), index),
            num_parallel_calls=map_parallelism)
    dataset = dataset.map(lambda batch_images, batch_labels: task.make_targets(
        batch_images if augment != "none" else to_model_input(batch_images), batch_labels),
        num_parallel_calls=map_parallelism)
    return _with_fixed_options(dataset).prefetch(prefetch_batches)


def _epoch_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: tf.Tensor,
                   epoch: tf.Variable | None) -> tf.data.Dataset:
    """uint8 (images, labels) batches of one epoch: shuffled by (seed, epoch) with `epoch`, in order without.
    A label is a number per image, or an array per image (a line's digits)."""
    count = len(images)
    # Flat rows: one contiguous row per image gathers faster than [n, 28, 28] (benchmarks/pipeline.py).
    images_tensor = tf.constant(images.reshape(count, -1))
    labels_tensor = tf.constant(labels.astype(np.int32))
    batch_count = -(-count // batch_size)

    def batches_in(order: tf.Tensor) -> tf.data.Dataset:
        return _batches_in_order(images_tensor, labels_tensor, order, batch_size, images.shape[1:], labels.shape[1:])

    if epoch is not None:
        # The variable is read when an epoch's iterator starts, after SetFeedEpoch set it.
        dataset = tf.data.Dataset.range(1).flat_map(lambda _: batches_in(
            epoch_permutation(count, seed, epoch.read_value())))
    else:
        dataset = batches_in(tf.range(count, dtype=tf.int64))
    # flat_map hides the length; Keras needs it to count steps and epochs.
    return dataset.apply(tf.data.experimental.assert_cardinality(batch_count))


def _batches_in_order(images: tf.Tensor, labels: tf.Tensor, order: tf.Tensor, batch_size: int,
                      image_shape: tuple[int, ...], label_shape: tuple[int, ...] = ()) -> tf.data.Dataset:
    """The flat `images` and their `labels` gathered in `order` in one op, handed out as
    consecutive slices of `batch_size` (the last one smaller, as with Dataset.batch)."""
    full_batches, remainder = divmod(images.shape[0], batch_size)
    epoch_images, epoch_labels = tf.gather(images, order), tf.gather(labels, order)
    cut = full_batches * batch_size
    batches = tf.data.Dataset.from_tensor_slices((
        tf.reshape(epoch_images[:cut], [full_batches, batch_size, *image_shape]),
        tf.reshape(epoch_labels[:cut], [full_batches, batch_size, *label_shape]),
    ))
    if remainder:
        batches = batches.concatenate(tf.data.Dataset.from_tensors(
            (tf.reshape(epoch_images[cut:], [remainder, *image_shape]), epoch_labels[cut:])))
    return batches


def _with_fixed_options(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Deterministic order, fixed sizes (no autotuning), and each worker taking every n-th batch."""
    options = tf.data.Options()
    # Several workers each hold the whole in-memory array, so each takes every
    # n-th batch; FILE sharding would need files.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    options.autotune.enabled = False
    return dataset.with_options(options)


def _augmented(batch, preset: str, epoch_seed: tf.Tensor, index: tf.Tensor):
    """(uint8 images, labels) -> (augmented float images, labels); labels untouched (style edits read them)."""
    images, labels = batch
    seed = tf.random.experimental.stateless_fold_in(epoch_seed, index)
    return augment_batch(to_model_input(images), seed, preset, labels), labels


def epoch_variable() -> tf.Variable:
    """The variable that make_dataset(epoch=...) reads and callbacks.SetFeedEpoch sets (training/tfdata_feed.py)."""
    return tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")


def epoch_permutation(count: int, seed: tf.Tensor, epoch: tf.Tensor) -> tf.Tensor:
    """The order of the examples in `epoch`: a function of (seed, epoch) only."""
    return tf.random.experimental.stateless_shuffle(
        tf.range(count, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]))
