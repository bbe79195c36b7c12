import gzip

import numpy as np
import pytest
from conftest import idx_bytes, write_digit_folder, write_idx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitnet.core.errors import DataError
from digitnet.data.idx import read_idx, read_idx_bytes
from digitnet.data.sources import load_idx_folder

IMAGES = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)


@pytest.mark.parametrize("compress", [True, False])
def test_reads_gzip_and_raw(tmp_path, compress):
    path = write_idx(tmp_path / "images", IMAGES, compress=compress)
    np.testing.assert_array_equal(read_idx(path), IMAGES)


def test_embedded_mnist_has_the_published_counts(mnist):
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    assert sorted(np.unique(mnist.train_labels)) == list(range(10))
    # Published class counts of the MNIST test set.
    assert np.bincount(mnist.test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: raw[:-5], "truncated"),
        (lambda raw: raw + b"\0", "trailing data"),
        (lambda raw: b"\x12\x34" + raw[2:], "not an IDX file: magic number 1234"),
        (lambda raw: raw[:2] + b"\x07" + raw[3:], "not an IDX file"),
        (lambda raw: raw[:3], "too short"),
        (lambda raw: raw[:4] + raw[4:8], "header announces 3 dimensions"),
    ],
)
def test_rejects_damaged_files(tmp_path, mutate, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mutate(idx_bytes(IMAGES)))
    with pytest.raises(DataError, match=message) as raised:
        read_idx(path)
    assert str(path) in str(raised.value)


def test_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(IMAGES))[:-40])
    with pytest.raises(DataError, match="gzip stream is truncated or corrupt"):
        read_idx(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_idx(tmp_path / "nothing.gz")
    with pytest.raises(DataError, match="data folder not found"):
        load_idx_folder(tmp_path / "nowhere")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        load_idx_folder(tmp_path / "afile")


@pytest.mark.parametrize("compress", [True, False])
def test_any_folder_with_the_standard_names(tmp_path, compress):
    data = load_idx_folder(write_digit_folder(tmp_path, 30, 10, compress=compress))
    assert data.train_images.shape == (30, 28, 28) and data.test_labels.shape == (10,)


def test_folder_missing_a_file(tmp_path):
    folder = write_digit_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte.gz"):
        load_idx_folder(folder)


def test_count_mismatch_names_both_files(tmp_path):
    folder = write_digit_folder(tmp_path, 30, 10)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(29, np.uint8))
    with pytest.raises(DataError, match="holds 30 images but .*train-labels.* holds 29 labels"):
        load_idx_folder(folder)


def test_labels_outside_0_to_9(tmp_path):
    folder = write_digit_folder(tmp_path, 30, 10)
    labels = np.zeros(10, np.uint8)
    labels[4] = 12
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match="1 labels outside 0-9 .first at index 4: 12"):
        load_idx_folder(folder)


def test_wrong_image_size(tmp_path):
    folder = write_digit_folder(tmp_path, 30, 10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((10, 32, 32), np.uint8))
    with pytest.raises(DataError, match=r"shape \[N, 28, 28\], found uint8 \[10, 32, 32\]"):
        load_idx_folder(folder)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_data_errors(raw):
    try:
        read_idx_bytes(raw)
    except DataError:
        pass


@settings(max_examples=300, deadline=2000)
@given(st.data())
def test_mutated_files_raise_only_data_errors(data):
    raw = bytearray(gzip.compress(idx_bytes(IMAGES)) if data.draw(st.booleans()) else idx_bytes(IMAGES))
    for _ in range(data.draw(st.integers(1, 5))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        result = read_idx_bytes(bytes(raw[:cut]))
    except DataError:
        return
    assert isinstance(result, np.ndarray)
