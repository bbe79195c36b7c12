"""tf.distribute strategies by name, for the tf.data feed (tfdata_feed.py). Create the strategy before any other TF op."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import tensorflow as tf

from digitnet.core import quiet
from digitnet.core.errors import ConfigError
from digitnet.training.config import STRATEGIES
from digitnet.training.feeds import FAST_STEPS_PER_EXECUTION


def _auto() -> tf.distribute.Strategy:
    """MirroredStrategy over two or more GPUs; otherwise the default strategy,
    which runs on the one GPU when there is one (and keeps steps_per_execution 10)."""
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _multi_worker() -> tf.distribute.Strategy:
    if "TF_CONFIG" not in os.environ:
        raise ConfigError("--strategy multi_worker needs the TF_CONFIG environment variable (see README, 'Several workers')")
    try:
        json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({error}): received {os.environ['TF_CONFIG']!r}") from None
    _bound_peer_waits()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    from digitnet.training.keras_fixes import apply_multi_worker_fixes

    apply_multi_worker_fixes()
    return strategy


_MAKERS = {
    "auto": _auto,
    "default": tf.distribute.get_strategy,
    "mirrored": tf.distribute.MirroredStrategy,
    "multi_worker": _multi_worker,
}
assert tuple(_MAKERS) == STRATEGIES, "config.STRATEGIES names every strategy made here"


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name not in _MAKERS:
        raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    with quiet.native_stderr():  # the first device query prints CUDA's notices
        tf.config.list_physical_devices()
    return _MAKERS[name]()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's outputs (always true on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())


# Batches per compiled call: FAST_STEPS_PER_EXECUTION where Keras allows more
# than one; its multi-step loop fails under Mirrored and MultiWorkerMirrored
# strategies ("You must feed a value for placeholder tensor",
# keras-team/keras#19246), so there it is 1.


def steps_per_execution_for(strategy: tf.distribute.Strategy, requested: int | None) -> int:
    """`requested`, or the fastest value that works under `strategy`."""
    single_device = not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
    if requested is None:
        return FAST_STEPS_PER_EXECUTION if single_device else 1
    if requested > 1 and not single_device:
        raise ConfigError(f"--steps-per-execution {requested} does not work under {type(strategy).__name__} in this "
                          "Keras (keras-team/keras#19246); leave it out (1 is used) or give 1")
    return requested


# How long a silent peer is waited for during training before every other
# worker's collectives are aborted (train() then names the peer).
HEARTBEAT_TIMEOUT_SECONDS = 20


def _bound_peer_waits() -> None:
    """Configures TensorFlow's coordination service before MWMS does: a worker whose heartbeats
    stop for HEARTBEAT_TIMEOUT_SECONDS aborts the collectives of all others."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    if context.context().coordination_service is not None:
        return
    cluster_spec = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster_spec.num_tasks(job))
            for job in ("chief", "worker") if job in cluster_spec.jobs]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster_spec),
        coordinated_jobs=jobs, heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_SECONDS * 1000)


# Errors by which TensorFlow reports a peer it cannot reach, when its message names none.
PEER_LOST_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
                    tf.errors.DeadlineExceededError)


def name_missing_peer(error: Exception) -> str | None:
    """'worker 1 (127.0.0.1:12346)' for an error that says a peer of this multi-worker run is
    gone, else None. TensorFlow names the peer in its health check's abort ("... task:1 is
    down"), in the coordination service's ("tasks are unhealthy (stopped sending
    heartbeats): /job:worker/replica:0/task:1"), or as the remote end of a broken
    connection (its task or its address); when a lost connection names nobody and the run
    has two workers, the peer is the other one."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    cluster, task = config.get("cluster", {}), config.get("task", {})
    own = (task.get("type"), task.get("index"))
    others = [(job, index) for job, addresses in cluster.items() for index in range(len(addresses))
              if (job, index) != own]
    if not others:
        return None
    message = str(error)
    match = re.search(r"/job:(\w+)/replica:\d+/task:(\d+) is down", message) or re.search(
        r"unhealthy[^/]*/job:(\w+)/replica:\d+/task:(\d+)", message)
    named = [(match.group(1), int(match.group(2)))] if match else []
    named += [(job, int(index)) for job, index in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", message)]
    named += [(job, index) for job, index in others if cluster[job][index] in message]
    named = [peer for peer in named if peer in others]
    if not named and len(others) == 1 and isinstance(error, PEER_LOST_ERRORS):
        named = others
    if not named:
        return None
    job, index = named[0]
    return f"{job} {index} ({cluster[job][index]})"


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """This process's place among the workers (0 on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0
    jobs = resolver.cluster_spec().as_dict()
    return (len(jobs.get("chief", [])) if resolver.task_type == "worker" else 0) + resolver.task_id


def worker_count(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return len(jobs.get("chief", [])) + len(jobs.get("worker", []))


def gather_rows(strategy: tf.distribute.Strategy, row: list[float]) -> list[list[float]]:
    """Every worker's `row`, in worker order, on every worker (one all-reduce).

    Each worker places its row at its own index of a zero matrix, on its first
    replica only, and the sum over all replicas is the matrix of all rows."""
    workers = worker_count(strategy)
    if workers == 1:
        return [list(row)]
    local_replicas = strategy.num_replicas_in_sync // workers
    mine = np.zeros((workers, len(row)))
    mine[worker_index(strategy)] = row

    def value(context):
        first = context.replica_id_in_sync_group % local_replicas == 0
        return tf.constant(mine if first else np.zeros_like(mine), tf.float64)

    total = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.experimental_distribute_values_from_function(value),
                            axis=None)
    return total.numpy().tolist()
