"""The tf.data input pipeline: uint8 arrays in, normalised batches out."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from digitnet.tasks import Task


def normalize_images(images: tf.Tensor) -> tf.Tensor:
    """uint8 [..., 28, 28] -> float32 [..., 28, 28, 1] in [0, 1]."""
    return tf.expand_dims(tf.cast(images, tf.float32) / 255.0, axis=-1)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    task: Task,
    batch_size: int,
    *,
    shuffle_seed: int | None = None,
    shuffle: bool = False,
    map_parallelism: int | None = None,
    prefetch_batches: int = 2,
) -> tf.data.Dataset:
    """Batches of (inputs, targets) for `task`.

    No stage works image by image, and none gathers per batch: each epoch draws
    one permutation (reshuffled every epoch, reproducibly from `shuffle_seed`),
    gathers the whole uint8 array in that order in one op, and hands out
    consecutive slices of it as batches, each converted to float at once.
    Per-image shuffling was about 10x slower and a gather per batch about 1.5x
    (benchmarks/pipeline.py). The last batch may be smaller, as with
    Dataset.batch.

    tf.data's autotuning is off, and the map and prefetch sizes are fixed:
    with it on, a training epoch here stalled for about 2.5 s once in every
    few epochs (benchmarks/README.md), and converting a batch is too cheap to
    need parallel calls.
    """
    count = len(images)
    # Flat rows: gathering [n, 784] is about 5x faster than gathering [n, 28, 28].
    images_tensor = tf.constant(images.reshape(count, -1))
    labels_tensor = tf.constant(labels.astype(np.int32))
    full_batches, remainder = divmod(count, batch_size)

    def batches_in(order: tf.Tensor) -> tf.data.Dataset:
        epoch_images, epoch_labels = tf.gather(images_tensor, order), tf.gather(labels_tensor, order)
        cut = full_batches * batch_size
        batches = tf.data.Dataset.from_tensor_slices((
            tf.reshape(epoch_images[:cut], [full_batches, batch_size, *images.shape[1:]]),
            tf.reshape(epoch_labels[:cut], [full_batches, batch_size]),
        ))
        if remainder:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(
                (tf.reshape(epoch_images[cut:], [remainder, *images.shape[1:]]), epoch_labels[cut:])))
        return batches

    if shuffle:
        # One random seed per epoch: Dataset.random draws a new one each iteration.
        epoch_seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).take(1)
        dataset = epoch_seeds.flat_map(lambda seed: batches_in(tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([seed, tf.constant(0, tf.int64)]))))
    else:
        dataset = batches_in(tf.range(count, dtype=tf.int64))
    # flat_map hides the length; Keras needs it to count steps and epochs.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(full_batches + bool(remainder)))
    dataset = dataset.map(lambda batch_images, batch_labels: task.make_targets(normalize_images(batch_images), batch_labels),
                          num_parallel_calls=map_parallelism)
    options = tf.data.Options()
    # Several workers each hold the whole in-memory array, so each takes every
    # n-th batch; FILE sharding would need files.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    options.autotune.enabled = False
    return dataset.with_options(options).prefetch(prefetch_batches)


def split_validation(images: np.ndarray, labels: np.ndarray, fraction: float):
    """Holds out the last `fraction` of the examples, as Keras' validation_split does."""
    held_out = int(round(len(images) * fraction))
    if held_out == 0:
        return (images, labels), None
    cut = len(images) - held_out
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])
