"""Reads a .safetensors file from its bytes, checking it as it goes (no library, no pickle).

The format: an 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape,
data_offsets: [begin, end]}, "__metadata__": {...}}, then the tensors' raw little-endian bytes, each at
its offsets relative to the end of the header.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

MAX_HEADER_BYTES = 100 << 20
DTYPES = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("uint8"),
    "I8": np.dtype("int8"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F64": np.dtype("<f8"),
}


class SafetensorsError(ValueError):
    pass


def read_safetensors(data: bytes, what: str) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file's bytes (`what` names it in errors); raises SafetensorsError when the
    file is truncated, its header is not the format's, or a tensor's bytes do not match its dtype and shape."""
    if len(data) < 8:
        raise SafetensorsError(f"{what} is {len(data)} bytes: truncated before its header")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(data):
        raise SafetensorsError(
            f"{what}: its header claims {header_len} bytes, the file has {len(data) - 8} after the length: "
            "truncated or not safetensors"
        )
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{what}: its header is not JSON ({e}): not a safetensors file") from e
    if not isinstance(header, dict):
        raise SafetensorsError(f"{what}: its header is not a JSON object: not a safetensors file")
    buffer = memoryview(data)[8 + header_len :]
    tensors: dict[str, np.ndarray] = {}
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = _entry(what, name, entry)
        expected = math.prod(shape) * dtype.itemsize
        if end - begin != expected:
            raise SafetensorsError(f"{what}: {name} spans {end - begin} bytes, its dtype and shape {shape} need {expected}")
        if end > len(buffer):
            raise SafetensorsError(
                f"{what}: {name} ends at byte {end} of the data, which has {len(buffer)}: the file is truncated"
            )
        tensors[name] = np.frombuffer(buffer[begin:end], dtype=dtype).reshape(shape).copy()
        spans.append((begin, end, name))
    spans.sort()
    for (_, end_a, a), (begin_b, _, b) in zip(spans, spans[1:]):
        if begin_b < end_a:
            raise SafetensorsError(f"{what}: the bytes of {a} and {b} overlap: the file is corrupt")
    return tensors


def _entry(what: str, name: str, entry: object) -> tuple[np.dtype, list[int], tuple[int, int]]:
    if not isinstance(entry, dict):
        raise SafetensorsError(f"{what}: the header's entry for {name} is not an object")
    dtype = DTYPES.get(entry.get("dtype"))
    if dtype is None:
        raise SafetensorsError(
            f"{what}: {name} has dtype {entry.get('dtype')!r}, which this reader does not know ({', '.join(DTYPES)})"
        )
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise SafetensorsError(f"{what}: {name} has shape {shape!r}, not a list of sizes")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(n, int) for n in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise SafetensorsError(f"{what}: {name} has data_offsets {offsets!r}, not [begin, end]")
    return dtype, shape, (offsets[0], offsets[1])
