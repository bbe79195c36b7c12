"""export/: the TF Serving REST client's request and the TFLite demo."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "export"))

import rest_client  # noqa: E402


def _digit_png(mnist, index, path):
    Image.fromarray(255 - mnist.test_images[index]).resize((112, 112)).save(path)
    return str(path)


def test_rest_request_body_is_what_tf_serving_expects(mnist, tmp_path):
    paths = [_digit_png(mnist, i, tmp_path / f"d{i}.png") for i in range(3)]
    body = rest_client.build_request(paths)
    assert body["signature_name"] == "serving_default"
    instances = np.array(body["instances"])
    assert instances.shape == (3, 28, 28) and instances.dtype.kind == "i"
    assert 0 <= instances.min() and instances.max() <= 255
    assert np.corrcoef(instances[0].ravel(), mnist.test_images[0].ravel())[0, 1] > 0.9
    # What TF Serving would do with it: the committed LeNet's serving_default, fed the JSON round trip.
    import tensorflow as tf

    serving = tf.saved_model.load(str(ROOT / "saved_models" / "lenet" / "1")).signatures[body["signature_name"]]
    sent = np.array(json.loads(json.dumps(body))["instances"], dtype=np.uint8)
    np.testing.assert_array_equal(serving(images=tf.constant(sent))["classes"].numpy(), mnist.test_labels[:3])
    assert rest_client.predict_url("http://localhost:8501/", "lenet") == "http://localhost:8501/v1/models/lenet:predict"
    assert rest_client.predict_url("http://h:8501", "lenet", 2) == "http://h:8501/v1/models/lenet/versions/2:predict"


def test_rest_client_dry_run_prints_the_body(mnist, tmp_path):
    """The printed body is held to what TF Serving's REST API takes and to the digits photographed,
    not to the client's own build_request."""
    indices = [1, 0, 3]  # a 2, a 7 and a 0, in this order
    paths = [_digit_png(mnist, i, tmp_path / f"digit{i}.png") for i in indices]
    done = subprocess.run([sys.executable, str(ROOT / "export" / "rest_client.py"), "--dry-run", *paths],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert list(printed) == ["signature_name", "instances"] and printed["signature_name"] == "serving_default"
    instances = np.array(printed["instances"])
    assert instances.shape == (3, 28, 28) and instances.dtype.kind == "i"
    assert 0 <= instances.min() and instances.max() <= 255
    for instance, index in zip(instances, indices):  # each the digit of its file, white on black like MNIST
        assert np.corrcoef(instance.ravel(), mnist.test_images[index].ravel())[0, 1] > 0.8
    # What TF Serving would answer: the committed LeNet reads the digits of the photographs.
    import tensorflow as tf

    serving = tf.saved_model.load(str(ROOT / "saved_models" / "lenet" / "1")).signatures["serving_default"]
    classes = serving(images=tf.constant(instances.astype(np.uint8)))["classes"].numpy()
    np.testing.assert_array_equal(classes, mnist.test_labels[indices])


def test_tflite_demo_prints_prediction_probability_and_latency(mnist, tmp_path):
    path = _digit_png(mnist, 0, tmp_path / "seven.png")
    model = ROOT / "saved_models" / "tflite" / "lenet" / "1" / "lenet_int8.tflite"
    done = subprocess.run([sys.executable, str(ROOT / "export" / "tflite_demo.py"), str(model), path],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = rf"{re.escape(path)}: 7 \(probability (0\.9\d\d|1\.000), \d+\.\d{{3}} ms\)\n"
    assert re.fullmatch(expected, done.stdout), done.stdout
