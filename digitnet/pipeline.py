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

    No stage works image by image: each epoch draws one permutation of the
    indices (reshuffled every epoch, reproducibly from `shuffle_seed`), cuts
    it into batches, and each batch gathers its uint8 images in one op and
    converts them at once. Shuffling images element by element was the
    bottleneck (about 10x slower, benchmarks/pipeline.py).
    """
    count = len(images)
    images_tensor = tf.constant(images)
    labels_tensor = tf.constant(labels.astype(np.int32))
    num_batches = -(-count // batch_size)

    def batches_of(order: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.range(num_batches).map(
            lambda i: order[i * batch_size: tf.minimum((i + 1) * batch_size, count)])

    if shuffle:
        # One random seed per epoch: Dataset.random draws a new one each iteration.
        epoch_seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).take(1)
        dataset = epoch_seeds.flat_map(lambda seed: batches_of(tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([seed, tf.constant(0, tf.int64)]))))
    else:
        dataset = batches_of(tf.range(count, dtype=tf.int64))
    # flat_map hides the length; Keras needs it to count steps and epochs.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    dataset = dataset.map(
        lambda index: task.make_targets(normalize_images(tf.gather(images_tensor, index)),
                                        tf.gather(labels_tensor, index)),
        num_parallel_calls=tf.data.AUTOTUNE,
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
