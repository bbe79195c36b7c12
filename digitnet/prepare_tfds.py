"""Prepare tensorflow-datasets' `mnist` offline from the embedded MNIST files.

    python -m digitnet.prepare_tfds [--tfds-data-dir DIR]
    python -m digitnet.train --data-source tfds [--tfds-data-dir DIR]

TFDS would download the four original .gz files. Ours hold byte-identical
IDX content (checked here against the published MD5 of the uncompressed
files) but were compressed anew, so their .gz checksums differ. They are
placed in TFDS's download cache under the names TFDS expects, with the
`.INFO` record TFDS writes after a download, naming the registered
checksum; TFDS then builds `mnist` from them without touching the network
and without any patch to TFDS. `download_and_prepare` is told not to fetch
TFDS's prepared copy from Google Cloud Storage (by default it tries that
first, where GCS is enabled), so it builds from these cached files and
downloads nothing (tests/test_tfds.py checks this with the network blocked).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.resources
import json
import shutil
from pathlib import Path

from digitnet.core import cli
from digitnet.core.errors import DataError
from digitnet.core.files import atomic_path, write_text
from digitnet.data.sources import embedded_data_dir

# MD5 of the uncompressed originals, as the MNIST distribution publishes them.
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


def prepare_tfds_mnist(tfds_data_dir: str | None = None, source_dir: Path | None = None) -> Path:
    """Builds TFDS's `mnist` from local files; returns the prepared dataset folder."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import resource

    source_dir = Path(source_dir or embedded_data_dir())
    builder = tfds.builder("mnist", data_dir=tfds_data_dir)
    if builder.is_prepared():
        return Path(builder.data_dir)
    download_dir = Path(builder.data_dir_root) / "downloads"
    download_dir.mkdir(parents=True, exist_ok=True)
    checksums = (importlib.resources.files(tfds) / "url_checksums" / "mnist.txt").read_text()
    for line in checksums.strip().splitlines():
        url, size, sha256, filename = line.split("\t")
        local = source_dir / filename
        content_md5 = hashlib.md5(gzip.decompress(local.read_bytes())).hexdigest()
        if content_md5 != PUBLISHED_MD5[filename]:
            raise DataError(f"{local}: uncompressed MD5 {content_md5} differs from the published "
                            f"{PUBLISHED_MD5[filename]}; refusing to hand it to TFDS as MNIST")
        target = download_dir / resource.get_dl_fname(url, sha256)
        with atomic_path(target) as temporary:
            shutil.copyfile(local, temporary)
        info = {"urls": [url], "dataset_names": ["mnist"], "original_fname": filename,
                "url_info": {"size": int(size), "checksum": sha256, "filename": filename}}
        write_text(resource.get_info_path(target), json.dumps(info, sort_keys=True))
    offline = tfds.download.DownloadConfig(
        try_download_gcs=False,  # build from our files, never fetch TFDS's prepared copy from GCS
        download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS,  # reuse the cache above, never re-download
    )
    builder.download_and_prepare(download_dir=str(download_dir), download_config=offline)
    return Path(builder.data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet.prepare_tfds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tfds-data-dir", help="TFDS data folder (default: TFDS's, usually ~/tensorflow_datasets)")
    cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(f"TFDS mnist prepared in {prepare_tfds_mnist(args.tfds_data_dir)}")
    return 0


if __name__ == "__main__":
    cli.run_as_process(main)
