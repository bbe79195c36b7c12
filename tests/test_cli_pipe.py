"""A command whose output is cut short by its reader (`| head`) ends without a traceback."""
import subprocess
import sys

from conftest import subprocess_env


def test_predict_piped_into_a_reader_that_stops_ends_without_a_traceback(tmp_path):
    from PIL import Image

    from digitnet.data.sources import load_digits

    path = tmp_path / "digit.png"
    Image.fromarray(255 - load_digits().test_images[0]).resize((112, 112)).save(path)
    # 600 JSON lines (over 100 KB) overflow the pipe's buffer: predict is still writing when the
    # reader, having taken one line, closes the pipe.
    paths = [str(path)] * 600
    command = (f"{sys.executable} -m digitnet.predict --json --model saved_models/lenet/1 {' '.join(paths)}"
               " | head -n 1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                          timeout=300, env=subprocess_env(), cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert done.stdout.count("\n") == 1 and '"digit"' in done.stdout
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 141
