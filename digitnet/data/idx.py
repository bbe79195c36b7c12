"""Reader for the IDX format that MNIST (and Fashion-MNIST, EMNIST...) ships in.

IDX layout: two zero bytes, a type code, the number of dimensions, one
big-endian uint32 per dimension, then the payload in row-major order.
Every check raises DataError naming the file, so a bad download is reported
as such instead of surfacing later as a shape error inside TensorFlow.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from digitnet.core.errors import DataError

# Type codes of the IDX specification, mapped to big-endian numpy types.
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx_bytes(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parses IDX content (gzip-compressed or raw) into a numpy array."""
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise DataError(f"{name}: the gzip stream is truncated or corrupt ({error})") from None
    if len(raw) < 4:
        raise DataError(f"{name}: {len(raw)} bytes is too short for an IDX header (needs at least 4)")
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or type_code not in IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{name}: not an IDX file: magic number {raw[:4].hex()} "
            f"(expected 0000 followed by a type code in "
            f"{sorted(hex(code) for code in IDX_DTYPES)} and a dimension count >= 1)"
        )
    header_length = 4 + 4 * ndim
    if len(raw) < header_length:
        raise DataError(f"{name}: header announces {ndim} dimensions but the file ends after {len(raw)} bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[type_code]
    expected = dtype.itemsize
    for size in shape:
        expected *= size
    payload = len(raw) - header_length
    if payload != expected:
        raise DataError(
            f"{name}: header says shape {shape} of {dtype.name} ({expected} payload bytes) "
            f"but the file holds {payload} payload bytes ({'truncated' if payload < expected else 'trailing data'})"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_length).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file from disk; see read_idx_bytes."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected an IDX file") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    return read_idx_bytes(raw, name=str(path))
