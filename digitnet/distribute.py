"""tf.distribute strategies by name. Create the strategy before any other TF op."""
from __future__ import annotations

import json
import os

import tensorflow as tf

from digitnet.errors import ConfigError


def _auto() -> tf.distribute.Strategy:
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _multi_worker() -> tf.distribute.Strategy:
    if "TF_CONFIG" not in os.environ:
        raise ConfigError("--strategy multi_worker needs the TF_CONFIG environment variable (see README, 'Several workers')")
    try:
        json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({error}): received {os.environ['TF_CONFIG']!r}") from None
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    from digitnet.keras_fixes import apply_multi_worker_fixes

    apply_multi_worker_fixes()
    return strategy


STRATEGIES = {
    "auto": _auto,
    "default": tf.distribute.get_strategy,
    "mirrored": tf.distribute.MirroredStrategy,
    "multi_worker": _multi_worker,
}


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's outputs (always true on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())


# Batches per compiled call where Keras allows more than one: its multi-step
# loop fails under Mirrored and MultiWorkerMirrored strategies ("You must feed
# a value for placeholder tensor", keras-team/keras#19246), so there it is 1.
FAST_STEPS_PER_EXECUTION = 10


def steps_per_execution_for(strategy: tf.distribute.Strategy, requested: int | None) -> int:
    """`requested`, or the fastest value that works under `strategy`."""
    single_device = not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
    if requested is None:
        return FAST_STEPS_PER_EXECUTION if single_device else 1
    if requested > 1 and not single_device:
        raise ConfigError(f"--steps-per-execution {requested} does not work under {type(strategy).__name__} in this "
                          "Keras (keras-team/keras#19246); leave it out (1 is used) or give 1")
    return requested
