"""The one place where digitnet works around a Keras bug.

keras-team/keras#20585: on TF 2.21 / Keras 3.15, plain `model.fit` under
MultiWorkerMirroredStrategy fails on every worker:

1. `TensorFlowTrainer._maybe_symbolic_build` takes the first distributed
   batch and calls `strategy.reduce("MEAN", batch, axis=None)` only to learn
   its shapes; a multi-worker strategy cannot reduce a PerReplica batch
   ("Attempt to convert a value (PerReplica:{...}) with an unsupported type").
   The fix hands it one replica's local batch, which has the right shapes.
2. `reduce_per_replica` reduces every metric with `axis=0`, but the metrics
   are scalars ("Invalid reduction dimension 0"). The fix reduces scalars
   with `axis=None`, as a single machine effectively does.

Each fix is applied only while the Keras source still holds the faulty line,
so it steps aside by itself once Keras is fixed.
"""
from __future__ import annotations

import inspect

import tensorflow as tf

_FAULTY_SYMBOLIC_BUILD = 'reduce(\n                        "MEAN",\n                        maybe_distributed_data_batch,\n                        axis=None'
_FAULTY_REDUCE = 'strategy.reduce("MEAN", v, axis=0)'


def _is_multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def apply_multi_worker_fixes() -> list[str]:
    """Patches Keras where needed; returns the names of the fixes applied (idempotent)."""
    from keras.src.backend.tensorflow import trainer as tf_trainer

    applied = []
    trainer_class = tf_trainer.TensorFlowTrainer
    build = trainer_class._maybe_symbolic_build
    if not getattr(build, "_digitnet_fix", False) and _FAULTY_SYMBOLIC_BUILD in inspect.getsource(build):
        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            strategy = self._distribute_strategy
            if iterator is None or strategy is None or not _is_multi_worker(strategy):
                return build(self, iterator=iterator, data_batch=data_batch)
            for _, _, batches in iterator:
                batch = next(batches)
                local = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0]
                    if isinstance(value, tf.distribute.DistributedValues) else value, batch)
                break
            return build(self, data_batch=local)

        _maybe_symbolic_build._digitnet_fix = True
        trainer_class._maybe_symbolic_build = _maybe_symbolic_build
        applied.append("symbolic_build")

    reduce = tf_trainer.reduce_per_replica
    if not getattr(reduce, "_digitnet_fix", False) and _FAULTY_REDUCE in inspect.getsource(reduce):
        def reduce_per_replica(values, strategy, reduction):
            if reduction not in ("auto", "mean") or not _is_multi_worker(strategy):
                return reduce(values, strategy, reduction)

            def _reduce(value):
                rank = strategy.experimental_local_results(value)[0].shape.rank
                return strategy.reduce("MEAN", value, axis=None if rank == 0 else 0)

            return tf.nest.map_structure(_reduce, values)

        reduce_per_replica._digitnet_fix = True
        tf_trainer.reduce_per_replica = reduce_per_replica
        applied.append("reduce_per_replica")
    return applied
