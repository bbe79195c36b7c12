"""tf.distribute paths that run without a GPU."""
import json
import os
import subprocess
import sys
import socket
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


WORKER = textwrap.dedent("""
    import json, sys
    from digitnet.config import TrainConfig
    from digitnet.training import train
    config = TrainConfig(arch="bpnn", epochs=2, train_examples=600, test_examples=200, batch_size=60,
                         output_dir=sys.argv[1], strategy="multi_worker", verbose=0)
    result = train(config)
    print(json.dumps({"weights": result.metrics["weights_sha256"], "test": result.metrics["test"],
                      "output_dir": str(result.output_dir)}))
""")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_two_workers_train_the_same_weights_and_only_the_chief_writes(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            workers.append(subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "run")],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()  # MWMS traps SIGTERM: only SIGKILL stops a worker waiting for its peer
                worker.wait()
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    chief, other = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert chief["weights"] == other["weights"]
    assert chief["output_dir"] == str(tmp_path / "run")
    assert not os.path.exists(other["output_dir"])  # the other worker's scratch folder is gone
    import keras
    import numpy as np
    from digitnet.data import load_digits
    from digitnet.pipeline import normalize_images

    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    data = load_digits().take_test(200)
    predictions = np.argmax(model.predict(normalize_images(data.test_images), verbose=0), axis=1)
    assert np.mean(predictions == data.test_labels) == pytest.approx(chief["test"]["accuracy"], abs=1e-6)


def test_steps_per_execution_is_10_on_one_device_and_1_where_keras_cannot_loop():
    import tensorflow as tf

    from digitnet.distribute import steps_per_execution_for

    assert steps_per_execution_for(tf.distribute.get_strategy(), None) == 10
    assert steps_per_execution_for(tf.distribute.get_strategy(), 3) == 3
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert steps_per_execution_for(mirrored, None) == 1
    with pytest.raises(ConfigError, match=r"--steps-per-execution 4 does not work under MirroredStrategy .*#19246"):
        steps_per_execution_for(mirrored, 4)
