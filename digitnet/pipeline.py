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
) -> tf.data.Dataset:
    """Batches of (inputs, targets) for `task`.

    Shuffling (over the whole split, reshuffled every epoch from `shuffle_seed`)
    happens on uint8 elements, and conversion happens once per batch, which is
    much cheaper than per image.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(
        lambda x, y: task.make_targets(normalize_images(x), y), num_parallel_calls=tf.data.AUTOTUNE
    )
    options = tf.data.Options()
    # Several workers each hold the whole in-memory array, so each takes every
    # n-th batch; FILE sharding would need files.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def split_validation(images: np.ndarray, labels: np.ndarray, fraction: float):
    """Holds out the last `fraction` of the examples, as Keras' validation_split does."""
    held_out = int(round(len(images) * fraction))
    if held_out == 0:
        return (images, labels), None
    cut = len(images) - held_out
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])
