"""A run resumed after its last epoch's backup keeps the optimizer that trained it."""
import keras
import numpy as np
from conftest import quick_train_args, run_train_cli

from digitnet.core import cli
from digitnet.training import loop


def test_a_run_stopped_after_its_last_backup_saves_the_trained_optimizer(tmp_path, monkeypatch):
    argv = ["--arch", "bpnn", *quick_train_args(train=300, test=100, epochs=2), "--output-dir", str(tmp_path)]

    def stop(*args, **kwargs):  # the process stops after the last epoch's backup, before the run is summarised
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(loop, "summarize", stop)
        assert run_train_cli(argv) == cli.EXIT_INTERRUPTED
    assert not (tmp_path / "model.keras").exists()
    assert run_train_cli(argv) == 0
    model = keras.models.load_model(tmp_path / "model.keras")
    # 300 examples in batches of 100, two epochs: Adam has taken 6 steps and holds non-zero moments.
    assert int(model.optimizer.iterations.numpy()) == 6
    assert all(np.any(v.numpy() != 0) for v in model.optimizer.variables if "momentum" in v.path)
