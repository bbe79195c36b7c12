import json
import socket
import time

import numpy as np
import pytest
from conftest import quick_train_args, run_train_cli

from digitnet.core.errors import DataError
from digitnet.data.sources import load_digits
from digitnet.prepare_tfds import prepare_tfds_mnist


def test_unprepared_tfds_fails_fast_with_instructions(tmp_path):
    started = time.monotonic()
    with pytest.raises(DataError, match="no prepared 'mnist'.*python -m digitnet.prepare_tfds.*--data-source embedded"):
        load_digits("tfds", tfds_data_dir=str(tmp_path))
    assert time.monotonic() - started < 30  # tfds.load would retry the network for minutes


class NetworkAttempt(RuntimeError):
    pass


def _forbid_network(patch, attempts):
    """Every way TFDS reaches beyond this machine records itself and raises:
    its GCS checks and copies, its URL downloader, and any non-local socket."""
    from tensorflow_datasets.core.download import download_manager, downloader
    from tensorflow_datasets.core.utils import gcs_utils

    def refuse(what):
        def refused(*args, **kwargs):
            attempts.append(f"{what}{args[-1:] if args else ''}")
            raise NetworkAttempt(f"{what} called while preparing offline")
        return refused

    for name in ("is_dataset_on_gcs", "download_gcs_dataset", "download_gcs_folder", "gcs_listdir", "exists"):
        patch.setattr(gcs_utils, name, refuse(f"gcs_utils.{name}"))
    patch.setattr(downloader._Downloader, "download", refuse("downloader.download"))
    patch.setattr(downloader._Downloader, "_sync_download", refuse("downloader._sync_download"))
    patch.setattr(download_manager.DownloadManager, "_download", refuse("DownloadManager._download"))
    connect = socket.socket.connect

    def local_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            refuse("socket.connect")(address)
        return connect(sock, address)
    patch.setattr(socket.socket, "connect", local_connect)
    patch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))


@pytest.fixture(scope="module")
def offline_preparation(tmp_path_factory):
    """prepare_tfds_mnist run once with the network forbidden: (folder, prepared, attempts, error)."""
    folder, prepared, attempts, error = tmp_path_factory.mktemp("tfds"), None, [], None
    with pytest.MonkeyPatch.context() as patch:
        _forbid_network(patch, attempts)
        try:
            prepared = prepare_tfds_mnist(str(folder))
        except Exception as failure:  # reported by the test below, not as a fixture error
            error = failure
    return folder, prepared, attempts, error


@pytest.mark.slow  # the first user of offline_preparation (about 30 s)
def test_prepare_tfds_never_reaches_for_the_network(offline_preparation):
    folder, prepared, attempts, error = offline_preparation
    assert attempts == [], f"network used while preparing: {attempts}"
    assert error is None, repr(error)
    assert prepared.parent == folder / "mnist" and (prepared / "dataset_info.json").is_file()


@pytest.fixture(scope="module")
def prepared_tfds(offline_preparation):
    folder, _, _, error = offline_preparation
    if error is not None:
        raise error
    return str(folder)


@pytest.mark.slow
def test_prepared_tfds_holds_the_embedded_mnist(prepared_tfds, mnist):
    from_tfds = load_digits("tfds", tfds_data_dir=prepared_tfds)
    for split in ("train", "test"):
        images, labels = getattr(from_tfds, f"{split}_images"), getattr(from_tfds, f"{split}_labels")
        reference_images, reference_labels = getattr(mnist, f"{split}_images"), getattr(mnist, f"{split}_labels")
        assert images.shape == reference_images.shape and images.dtype == np.uint8
        # TFDS stores the examples in its own order: compare as multisets.
        assert np.array_equal(np.bincount(labels), np.bincount(reference_labels))
        key = np.lexsort(images.reshape(len(images), -1).T)
        reference_key = np.lexsort(reference_images.reshape(len(reference_images), -1).T)
        np.testing.assert_array_equal(images[key], reference_images[reference_key])
        np.testing.assert_array_equal(labels[key], reference_labels[reference_key])


@pytest.mark.slow
def test_train_cli_on_tfds(prepared_tfds, tmp_path, capsys):
    argv = ["--arch", "bpnn", "--data-source", "tfds", "--tfds-data-dir", prepared_tfds, "--output-dir", str(tmp_path),
            *quick_train_args(train=200)]
    assert run_train_cli(argv) == 0
    assert "test accuracy" in capsys.readouterr().out
    trained_on = json.loads((tmp_path / "config.json").read_text())["data_source"]
    assert trained_on == f"tfds:{prepared_tfds}/mnist/3.0.1"  # TFDS's copy, not the embedded files
