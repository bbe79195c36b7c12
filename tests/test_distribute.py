"""tf.distribute paths that run without a GPU."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from digitnet.distribute import make_strategy
from digitnet.errors import ConfigError

MIRRORED_ON_TWO_CPUS = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    from digitnet.config import TrainConfig
    from digitnet.training import train
    config = TrainConfig(arch="lenet", epochs=1, train_examples=400, test_examples=100, batch_size=50,
                         output_dir=sys.argv[1], verbose=0)
    result = train(config, strategy=strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "accuracy": result.metrics["test"]["accuracy"]}))
""")


def test_mirrored_strategy_trains_over_two_replicas(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", MIRRORED_ON_TWO_CPUS, str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert 0.0 <= report["accuracy"] <= 1.0
    assert (tmp_path / "run" / "model.keras").exists()


def test_auto_strategy_without_gpu_is_the_default_one():
    import tensorflow as tf

    assert make_strategy("auto").num_replicas_in_sync == 1
    assert isinstance(make_strategy("default"), type(tf.distribute.get_strategy()))


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        make_strategy("multi_worker")
