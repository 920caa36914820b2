"""Versioned model container: an uncompressed ``.npz`` archive with a JSON header.

The archive contains named numpy arrays plus one entry ``__header__``: a ``uint8``
array with the UTF-8 bytes of a JSON object that contains at least ``format``
(a string such as ``"kanc-float"``) and ``version`` (an integer). Loading never
unpickles: numpy is called with ``allow_pickle=False``, so object arrays are
rejected. See ``docs/model_format.md``.
"""
import json
import zipfile

import numpy as np

from kanc.errors import ModelFileError
from kanc.io.atomic import atomic_path

HEADER_KEY = "__header__"


def write_model_file(path, header, arrays):
    """Write ``header`` (a JSON-serialisable dict) and ``arrays`` (name -> ndarray) to ``path`` atomically."""
    payload = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    for name, value in payload.items():
        if value.dtype == object:
            raise TypeError(f"array {name!r} has dtype object; model files hold numeric arrays only")
    payload[HEADER_KEY] = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **payload)


def read_model_file(path, expected_format, supported_versions):
    """Read a model file and return ``(header, arrays)``.

    Raises ModelFileError, naming the path and the problem, when the file is not
    found, is not an npz archive, has no valid header, contains another format, or has
    an unsupported version.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise ModelFileError(f"model file {path} is a directory; pass the .npz file") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(
            f"model file {path} is not a readable kanc model (npz archive): {exc}; "
            "re-create it with 'kanc train' or 'kanc compile'") from None

    raw = arrays.pop(HEADER_KEY, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"model file {path} has no '{HEADER_KEY}' entry; it was not written by kanc")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"model file {path} has an invalid JSON header: {exc}") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"model file {path}: header must be a JSON object, got {type(header).__name__}")

    found_format = header.get("format")
    if found_format != expected_format:
        raise ModelFileError(
            f"model file {path} has format {found_format!r}, expected {expected_format!r}")
    version = header.get("version")
    if version not in supported_versions:
        raise ModelFileError(
            f"model file {path} has {expected_format} version {version!r}; this kanc reads "
            f"versions {sorted(supported_versions)}")
    return header, arrays


def require_array(arrays, name, path, dtype_kind, ndim, shape=None):
    """Return ``arrays[name]`` after checking its dtype kind (a string of numpy kind letters such as "iu"), rank and shape.

    ``shape`` entries of None match any length. Raises ModelFileError naming the array.
    """
    if name not in arrays:
        raise ModelFileError(f"model file {path} is missing array '{name}'")
    value = arrays[name]
    kinds = tuple(dtype_kind)
    if value.dtype.kind not in kinds:
        raise ModelFileError(f"model file {path}: array '{name}' has dtype {value.dtype}, expected kind {kinds}")
    if value.ndim != ndim:
        raise ModelFileError(f"model file {path}: array '{name}' has {value.ndim} dimensions, expected {ndim}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(value.shape, shape)):
            if want is not None and got != want:
                raise ModelFileError(
                    f"model file {path}: array '{name}' has shape {value.shape}, expected {tuple(shape)} "
                    f"(axis {axis} differs)")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ModelFileError(f"model file {path}: array '{name}' contains NaN or infinite values")
    return value
