"""export/rest_client.py --not-a-digit against a stand-in for TF Serving's REST API (a local HTTP
server answering :predict with a TFLite model's probabilities): the lines are predict
--not-a-digit's, with the served model's temperature and floor when --served-model names it."""
import functools
import http.server
import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet.data.negatives import generate
from digitnet.serving.judge import default_judge_folder, load_judge
from digitnet.serving.judged_reading import judged
from digitnet.serving.reading import read
from digitnet.serving.runtimes import TFLitePredictor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "export"))
import rest_client  # noqa: E402

MODEL = ROOT / "saved_models" / "tflite" / "lenet" / "2" / "lenet_int8.tflite"

pytestmark = pytest.mark.skipif(default_judge_folder(ROOT / "saved_models") is None or not MODEL.exists(),
                                reason="needs saved_models/not_a_digit/<version> and the reference LeNet 2")


class _Serving(http.server.BaseHTTPRequestHandler):
    """POST /v1/models/<name>:predict {"instances": [28x28, ...]} -> {"predictions": [{"probabilities"}]}."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        rows = self.server.predictor(np.array(body["instances"], dtype=np.uint8))
        answer = json.dumps({"predictions": [{"probabilities": row.tolist(), "classes": int(np.argmax(row))}
                                             for row in rows]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    serving = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Serving)
    serving.predictor = TFLitePredictor(MODEL)
    thread = threading.Thread(target=serving.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{serving.server_address[1]}"
    serving.shutdown()


def _page(image: np.ndarray, path: Path) -> str:
    """A 28x28 white-on-black image, dark on a light page, enlarged."""
    sheet = Image.new("L", (150, 130), 255)
    sheet.paste(Image.fromarray(255 - image).resize((98, 98), Image.Resampling.BILINEAR), (20, 14))
    sheet.save(path)
    return str(path)


def test_rest_client_says_not_a_digit_as_predict_does(server, mnist, tmp_path, capsys):
    predictor = TFLitePredictor(MODEL)
    known, unknown = load_judge(MODEL), load_judge(None)
    assert known.model.calibration.temperature != 1 and unknown.model.calibration.temperature == 1
    letters = generate(2, seed=320, kinds=("letter",)).images
    paths = [_page(image, tmp_path / f"letter{i}.png") for i, image in enumerate(letters)]
    # a digit whose line depends on the model's temperature, so that --served-model is seen to count
    for index in range(300):
        path = _page(mnist.test_images[index], tmp_path / f"digit{index}.png")
        reading = read(path, predictor)
        if judged(reading, known).line(path) != judged(reading, unknown).line(path):
            paths.append(path)
            break
    assert len(paths) == 3, "no digit whose calibrated line shows the temperature"
    for served_model, judge in ((str(MODEL), known), (None, unknown)):
        extra = ["--served-model", served_model] if served_model else []
        assert rest_client.main(["--server", server, "--model", "lenet", "--not-a-digit", *extra, *paths]) == 0
        printed = capsys.readouterr().out.splitlines()
        assert printed == [judged(read(p, predictor), judge).line(p) for p in paths]
        assert [line.split(": ")[1] for line in printed[:2]] == ["not a digit", "not a digit"], printed
        assert "not a digit" not in printed[2]
    assert rest_client.main(["--server", server, "--model", "lenet", paths[0]]) == 0  # without the judge: a digit
    assert "not a digit" not in capsys.readouterr().out
