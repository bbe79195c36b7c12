"""Send PNG/JPEG digits to TF Serving's REST API and print the answers.

    python export/rest_client.py --server http://localhost:8501 --model lenet digit1.png digit2.jpg
    python export/rest_client.py --dry-run digit.png     # print the request body only

Images are prepared like MNIST (digitnet.serving.preprocess) and sent as uint8
28x28 arrays to the `serving_default` signature:
POST /v1/models/<name>:predict  {"signature_name": "serving_default", "instances": [...]}.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

from digitnet.serving.preprocess import prepare_file


def build_request(paths: list[str], signature: str = "serving_default") -> dict:
    """The JSON body for TF Serving's :predict (row format, one instance per image)."""
    return {"signature_name": signature, "instances": [prepare_file(path).tolist() for path in paths]}


def predict_url(server: str, model: str, version: int | None = None) -> str:
    version_part = f"/versions/{version}" if version else ""
    return f"{server.rstrip('/')}/v1/models/{model}{version_part}:predict"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--server", default="http://localhost:8501")
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--version", type=int, help="a specific version (default: the newest served)")
    parser.add_argument("--dry-run", action="store_true", help="print the request body instead of sending it")
    args = parser.parse_args(argv)
    body = build_request(args.images)
    if args.dry_run:
        print(json.dumps(body))
        return 0
    request = urllib.request.Request(predict_url(args.server, args.model, args.version),
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
    except (urllib.error.URLError, OSError) as error:
        print(f"error: cannot reach TF Serving at {args.server}: {error}", file=sys.stderr)
        return 1
    for path, prediction in zip(args.images, answer["predictions"]):
        probabilities = prediction["probabilities"]
        print(f"{path}: {prediction['classes']} (probability {probabilities[prediction['classes']]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
