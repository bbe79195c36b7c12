"""The optimiser of every run: Adam with the model's betas over a warm-up and cosine schedule.

It imports Keras but not TensorFlow, so the same recipe also trains digitnet's
models on Keras' other backends (digitnet.portable on a machine with Keras on JAX
and no TensorFlow).
"""
from __future__ import annotations

import keras

from digitnet.models.registry import ModelSpec
from digitnet.training.config import TrainConfig


def learning_rate_schedule(learning_rate: float, epochs: int, config: TrainConfig, steps_per_epoch: int):
    """The learning rate of each step of a stage of `epochs` epochs: linear warm-up
    from 0 over config.warmup_epochs, then cosine decay to 0 or constant (alpha=1)."""
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    decay_steps = epochs * steps_per_epoch - warmup_steps
    alpha = 0.0 if config.lr_schedule == "cosine" else 1.0
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(0.0, decay_steps, alpha=alpha, warmup_target=learning_rate,
                                                      warmup_steps=warmup_steps)
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=decay_steps)
    return learning_rate


def adam(spec: ModelSpec, learning_rate: float, epochs: int, config: TrainConfig,
         steps_per_epoch: int) -> keras.optimizers.Adam:
    """Adam with the registered betas over learning_rate_schedule."""
    return keras.optimizers.Adam(learning_rate_schedule(learning_rate, epochs, config, steps_per_epoch),
                                 beta_1=spec.adam_betas[0], beta_2=spec.adam_betas[1])
