"""tf.distribute paths that run without a GPU."""
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import tensorflow as tf
from conftest import subprocess_env

from digitnet.core import cli
from digitnet.core.errors import ConfigError
from digitnet.training.distribute import make_strategy

MIRRORED_ON_TWO_CPUS = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    from digitnet.training.config import TrainConfig
    from digitnet.training.loop import train
    config = TrainConfig(arch="lenet", epochs=1, train_examples=400, test_examples=100, batch_size=50,
                         output_dir=sys.argv[1], verbose=0)
    result = train(config, strategy=strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "accuracy": result.metrics["test"]["accuracy"]}))
""")


@pytest.mark.slow
def test_mirrored_strategy_trains_over_two_replicas(tmp_path):
    done = subprocess.run([sys.executable, "-c", MIRRORED_ON_TWO_CPUS, str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    import keras
    import numpy as np

    from digitnet.core.images import to_model_input
    from digitnet.data.sources import load_digits

    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    data = load_digits().take_test(100)
    predictions = np.argmax(model.predict(to_model_input(data.test_images), verbose=0), axis=1)
    assert report["accuracy"] == pytest.approx(np.mean(predictions == data.test_labels), abs=1e-6)
    assert report["accuracy"] > 0.3  # 400 images, one epoch: well above chance if both replicas learned


def test_auto_strategy_without_gpu_is_the_default_one():
    import tensorflow as tf

    assert make_strategy("auto").num_replicas_in_sync == 1
    assert isinstance(make_strategy("default"), type(tf.distribute.get_strategy()))


@pytest.mark.parametrize("gpus, mirrored", [(0, False), (1, False), (2, True)])
def test_auto_takes_mirrored_only_from_two_gpus(monkeypatch, gpus, mirrored):
    """One GPU keeps the default strategy, so steps_per_execution stays 10 (keras#19246 hits Mirrored only)."""
    import tensorflow as tf

    from digitnet.training.distribute import steps_per_execution_for

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: (
        [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(gpus)]
        if kind == "GPU" else real(kind)))
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda *args, **kwargs: "mirrored")
    strategy = make_strategy("auto")
    assert (strategy == "mirrored") is mirrored
    if not mirrored:
        assert steps_per_execution_for(strategy, None) == 10


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        make_strategy("multi_worker")


WORKER = textwrap.dedent("""
    import json, sys
    from digitnet.core import cli
    from digitnet.training.config import TrainConfig
    from digitnet.training.loop import train

    def main(argv):
        config = TrainConfig(arch=sys.argv[2], epochs=int(sys.argv[3]), train_examples=600, test_examples=200,
                             batch_size=60, pretrain_epochs=1, output_dir=sys.argv[1], strategy="multi_worker",
                             seed=3, deterministic=sys.argv[4] == "deterministic", verbose=0)
        result = train(config)
        print(json.dumps({"weights": result.metrics.get("weights_sha256"), "test": result.metrics.get("test"),
                          "output_dir": str(result.output_dir), "reused": result.reused}))
        return 0

    cli.run_as_process(main)  # as `python -m digitnet.train` runs
""")
# What TensorFlow says when a worker's port was taken between _free_ports and the worker's bind.
PORT_TAKEN = "Could not start gRPC server"


def _free_ports(count):
    """Ports free a moment ago; a worker that finds one taken since fails with PORT_TAKEN (_workers retries)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Worker(subprocess.Popen):
    """A worker process whose output goes to files (no pipe to fill while the test waits on another)."""

    def __init__(self, argv, env, logs):
        self.logs = logs
        with open(logs.with_suffix(".out"), "w") as out, open(logs.with_suffix(".err"), "w") as err:
            super().__init__(argv, stdout=out, stderr=err, text=True, env=env)

    def output(self):
        return self.logs.with_suffix(".out").read_text(), self.logs.with_suffix(".err").read_text()


def _start_workers(folder, ports, arch="bpnn", epochs=2, indices=(0, 1), deterministic=False):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    logs = Path(folder).parent / f"{Path(folder).name}-worker-logs"
    logs.mkdir(exist_ok=True)
    workers = []
    for index in indices:
        env = subprocess_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        argv = [sys.executable, "-c", WORKER, str(folder), arch, str(epochs), "deterministic" * deterministic]
        workers.append(Worker(argv, env, logs / f"worker-{index}-{time.monotonic_ns()}"))
    return workers


def _stop(workers):
    for worker in workers:
        if worker.poll() is None:
            worker.kill()  # MWMS traps SIGTERM: only SIGKILL stops a worker waiting for its peer
        worker.wait()


def _finish(workers, timeout=240):
    """Each worker's (stdout, stderr) once all have exited; None if one could not take its port (the
    others, waiting for it, are stopped)."""
    deadline = time.monotonic() + timeout
    try:
        while any(worker.poll() is None for worker in workers):
            if any(worker.poll() not in (None, 0) and PORT_TAKEN in worker.output()[1] for worker in workers):
                return None
            assert time.monotonic() < deadline, "the workers did not finish in time"
            time.sleep(0.1)
        if any(worker.returncode and PORT_TAKEN in worker.output()[1] for worker in workers):
            return None
        return [worker.output() for worker in workers]
    finally:
        _stop(workers)


def _workers(folder, *args, timeout=240, **kwargs):
    """Starts the workers and waits for them, on new ports again if a port was taken meanwhile."""
    for _ in range(3):
        workers = _start_workers(folder, _free_ports(2), *args, **kwargs)
        outputs = _finish(workers, timeout)
        if outputs is not None:
            return workers, outputs
    pytest.fail("three times a port was taken before a worker could bind it")


def _reports(workers, outputs):
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    for report in reports:  # a digest, not a missing key (None == None would pass)
        assert report["reused"] or re.fullmatch(r"[0-9a-f]{64}", str(report["weights"])), report
    return reports


def _run_two_workers(folder, arch="bpnn", epochs=2, deterministic=False):
    return _reports(*_workers(folder, arch, epochs, deterministic=deterministic))


def _history_epochs(folder):
    with open(folder / "history.csv") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


@pytest.mark.slow
def test_two_workers_train_the_same_weights_and_only_the_chief_writes(tmp_path):
    chief, other = _run_two_workers(tmp_path / "run")
    assert chief["weights"] == other["weights"]
    assert chief["output_dir"] == str(tmp_path / "run")
    assert not os.path.exists(other["output_dir"])  # the other worker's state folder is gone
    import keras
    import numpy as np

    from digitnet.core.images import to_model_input
    from digitnet.data.sources import load_digits

    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    data = load_digits().take_test(200)
    predictions = np.argmax(model.predict(to_model_input(data.test_images), verbose=0), axis=1)
    assert np.mean(predictions == data.test_labels) == pytest.approx(chief["test"]["accuracy"], abs=1e-6)
    # The same command again: every worker reuses the finished run (none trains alone).
    again = _run_two_workers(tmp_path / "run")
    assert [report["reused"] for report in again] == [True, True]


@pytest.mark.slow
def test_two_workers_train_ae_classifier_with_its_pretraining(tmp_path):
    chief, other = _run_two_workers(tmp_path / "run", arch="ae_classifier", epochs=1)
    assert chief["weights"] == other["weights"]
    assert (tmp_path / "run" / "pretrain-autoencoder" / "model.keras").exists()
    assert not os.path.exists(other["output_dir"])


def _start_until(folder, ready, seconds=240, **kwargs):
    """(workers, ports) of workers started and left running once ready() holds (or one exits, or
    `seconds` pass), on new ports again if a port was taken before a worker could bind it."""
    for _ in range(3):
        ports = _free_ports(2)
        workers = _start_workers(folder, ports, **kwargs)
        deadline = time.monotonic() + seconds
        while not ready() and time.monotonic() < deadline and all(worker.poll() is None for worker in workers):
            time.sleep(0.05)
        if not any(worker.poll() and PORT_TAKEN in worker.output()[1] for worker in workers):
            return workers, ports
        _stop(workers)
        shutil.rmtree(folder, ignore_errors=True)
    pytest.fail("three times a port was taken before a worker could bind it")


@pytest.mark.slow
def test_killed_workers_resume_together_to_the_weights_of_an_uninterrupted_run(tmp_path):
    """Both workers SIGKILLed once each has saved epoch 2 (wherever each is then), started again: they
    resume together, train each epoch once, and end on the weights of two workers never killed."""
    epochs = 10  # about a second each: the kill lands long before the end
    folder = tmp_path / "run"
    saved = [folder / "backup" / "train" / "epoch-2.weights.h5",
             tmp_path / "run.worker-1" / "backup" / "train" / "epoch-2.weights.h5"]
    workers, _ = _start_until(folder, lambda: all(p.exists() for p in saved), epochs=epochs, deterministic=True)
    _stop(workers)
    assert all(p.exists() for p in saved), [worker.output()[1][-2000:] for worker in workers]
    assert not (folder / "metrics.json").exists()  # killed before the end
    workers, outputs = _workers(folder, epochs=epochs, deterministic=True, timeout=300)
    chief, other = _reports(workers, outputs)
    assert all("resuming the interrupted run" in out for out, _ in outputs)
    assert chief["weights"] == other["weights"]
    assert _history_epochs(folder) == list(range(epochs))  # each epoch once
    alone, _ = _run_two_workers(tmp_path / "alone", epochs=epochs, deterministic=True)
    assert chief["weights"] == alone["weights"]


@pytest.mark.slow
def test_a_worker_whose_peer_dies_stops_naming_it(tmp_path):
    workers, ports = _start_until(tmp_path / "run", (tmp_path / "run" / "history.csv").exists, epochs=500)
    workers[1].kill()
    killed = time.monotonic()
    (out, err), = _finish(workers[:1], timeout=120)
    _stop(workers[1:])
    assert time.monotonic() - killed < 90
    assert workers[0].returncode == cli.EXIT_USAGE, err[-3000:]
    assert f"worker 1 (127.0.0.1:{ports[1]}) stopped answering" in err and "Traceback" not in err


def test_steps_per_execution_is_10_on_one_device_and_1_where_keras_cannot_loop():
    import tensorflow as tf

    from digitnet.training.distribute import steps_per_execution_for

    assert steps_per_execution_for(tf.distribute.get_strategy(), None) == 10
    assert steps_per_execution_for(tf.distribute.get_strategy(), 3) == 3
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert steps_per_execution_for(mirrored, None) == 1
    with pytest.raises(ConfigError, match=r"--steps-per-execution 4 does not work under MirroredStrategy .*#19246"):
        steps_per_execution_for(mirrored, 4)


@pytest.mark.parametrize("error, workers, expected", [
    (tf.errors.UnavailableError(None, None, "Collective ops is aborted by: cluster check alive failed, "
                                "/job:worker/replica:0/task:1 is down"), 2, "worker 1 (127.0.0.1:9001)"),
    (tf.errors.InternalError(None, None, "tasks are unhealthy (stopped sending heartbeats):\n"
                             "/job:worker/replica:0/task:2"), 3, "worker 2 (127.0.0.1:9002)"),
    (tf.errors.UnavailableError(None, None, "Socket closed. Additional GRPC error information from remote target "
                                "/job:worker/replica:0/task:1"), 2, "worker 1 (127.0.0.1:9001)"),
    (tf.errors.UnavailableError(None, None, "failed to connect to all addresses; last error: "
                                "ipv4:127.0.0.1:9002: Connection refused"), 3, "worker 2 (127.0.0.1:9002)"),
    (tf.errors.CancelledError(None, None, "Operation was cancelled"), 2, "worker 1 (127.0.0.1:9001)"),
    (tf.errors.CancelledError(None, None, "Operation was cancelled"), 3, None),  # which of two peers: unknown
    (tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [60,10] vs. [30,10]"), 2, None),
    (tf.errors.UnavailableError(None, None, "/job:worker/replica:0/task:1 is down"), 1, None),  # no peers
], ids=["health-check", "heartbeats", "socket-closed", "connection-refused", "lost-two-workers",
        "lost-three-workers", "not-a-peer", "one-worker"])
def test_the_missing_peer_is_named_from_whatever_tensorflow_says(monkeypatch, error, workers, expected):
    from digitnet.training.distribute import name_missing_peer

    cluster = {"worker": [f"127.0.0.1:{9000 + index}" for index in range(workers)]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert name_missing_peer(error) == expected
