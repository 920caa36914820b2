"""Shared pieces of the importers: the error type, optional torch, state-dict loading, activations.

torch is an optional extra of kanc. Nothing here imports it at module level, so
``import kanc.importers`` works without it. Functions that need it call
``require_torch()``, which raises a clear error naming the extra to install.
"""
import os
from collections.abc import Mapping

import numpy as np

from kanc.errors import KancError

INSTALL_HINT = 'pip install "kanc[import]"'

TASKS = ("regression", "classification")


class ModelImportError(KancError):
    """A model from another KAN library cannot be imported: missing file or key, bad shape, or an unsupported feature."""


def require_torch(purpose):
    """Import and return torch, or raise ModelImportError naming ``purpose`` and the extra to install."""
    try:
        import torch
    except ImportError:
        raise ModelImportError(
            f"{purpose} needs PyTorch, which is not installed; install it with {INSTALL_HINT}") from None
    return torch


def check_task(task):
    """Return ``task`` after checking that it is "regression" or "classification"."""
    if task not in TASKS:
        raise ModelImportError(f"invalid task {task!r}; use 'regression' or 'classification'")
    return task


def tensor_to_numpy(value):
    """Return a numpy copy of a torch tensor or array-like.

    float32 and float64 stay as they are; float16 and bfloat16, which numpy lacks
    or cannot take from torch, are widened to float64 (exactly).
    """
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if value.dtype.is_floating_point and value.dtype.itemsize < 4:
            value = value.double()
        return value.numpy().copy()
    return np.asarray(value)


def load_state_arrays(source, library):
    """Return an ordered dict name -> numpy array from a state dict in any of the accepted forms.

    ``source`` is a mapping of names to numpy arrays or torch tensors, a torch
    ``nn.Module`` (its ``state_dict()`` is read), a path to an ``.npz`` archive of
    plain arrays, or a path to a file written by ``torch.save(model.state_dict(), path)``.
    Torch files are read with ``weights_only=True``, which never runs pickled code.
    The order of the entries is kept because it is the order in which the modules
    were registered, which is the layer order of a ``Sequential`` or ``ModuleList``.
    """
    if hasattr(source, "state_dict") and callable(source.state_dict):
        source = source.state_dict()

    if isinstance(source, Mapping):
        return {str(name): tensor_to_numpy(value) for name, value in source.items()}

    if not isinstance(source, (str, os.PathLike)):
        raise ModelImportError(
            f"cannot read a {library} state dict from a {type(source).__name__}; pass a dict of arrays, "
            "a torch state_dict, an nn.Module, or the path of an .npz or torch file")

    path = os.fspath(source)
    if not os.path.isfile(path):
        raise ModelImportError(f"{library} state dict file not found: {path}")

    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}

    torch = require_torch(f"reading the torch file {path}")
    try:
        loaded = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or OSError here
        raise ModelImportError(
            f"cannot read {path} as a torch state dict with weights_only=True ({type(exc).__name__}: {exc}); "
            "save the weights with torch.save(model.state_dict(), path)") from None
    if not isinstance(loaded, Mapping):
        raise ModelImportError(
            f"{path} contains a {type(loaded).__name__}, expected a state dict; "
            "save the weights with torch.save(model.state_dict(), path)")
    return {str(name): tensor_to_numpy(value) for name, value in loaded.items()}


def float_array(arrays, name, library, ndim):
    """Return ``arrays[name]`` as float64 after checking that it exists, has rank ``ndim`` and is finite."""
    if name not in arrays:
        raise ModelImportError(f"{library} state dict is missing '{name}'")
    value = np.asarray(arrays[name])
    if value.dtype.kind not in "fiu":
        raise ModelImportError(f"{library} state dict entry '{name}' has dtype {value.dtype}, expected a float array")
    if value.ndim != ndim:
        raise ModelImportError(
            f"{library} state dict entry '{name}' has shape {value.shape}, expected {ndim} dimensions")
    value = value.astype(np.float64)
    if not np.all(np.isfinite(value)):
        raise ModelImportError(f"{library} state dict entry '{name}' contains NaN or infinite values")
    return value


def group_layers(arrays, suffixes, library):
    """Split state-dict names into layers: return a list of (prefix, {suffix: name}) in registration order.

    Each layer is identified by the name that ends in the first of ``suffixes``.
    Every other entry must end in one of ``suffixes`` and share a layer prefix.
    Anything else, such as a LayerNorm between layers, is rejected by name because
    it mixes the inputs of a layer and has no per-edge equivalent.
    """
    anchor = suffixes[0]
    prefixes = [name[: -len(anchor)] for name in arrays if name == anchor or name.endswith("." + anchor)]
    if not prefixes:
        raise ModelImportError(
            f"no {library} layer found: the state dict has no entry ending in '{anchor}' "
            f"(entries: {', '.join(list(arrays)[:8])})")

    layers = []
    claimed = set()
    for prefix in prefixes:
        members = {}
        for suffix in suffixes:
            name = prefix + suffix
            if name in arrays:
                members[suffix] = name
                claimed.add(name)
        layers.append((prefix, members))

    unknown = [name for name in arrays if name not in claimed]
    if unknown:
        raise ModelImportError(
            f"{library} state dict entry '{unknown[0]}' is not part of a {library} layer; kanc imports plain "
            "stacks of these layers only, because modules between them (LayerNorm, dropout with weights, "
            "linear layers) mix inputs and have no per-edge form. Remove them and retrain")
    return layers


def silu(x):
    """SiLU, x * sigmoid(x), written as torch.nn.SiLU computes it (x / (1 + exp(-x)))."""
    with np.errstate(over="ignore"):
        return x / (1.0 + np.exp(-x))


def identity(x):
    return x


def relu(x):
    return np.maximum(x, 0.0)


def zero(x):
    return x * 0.0


BASE_ACTIVATIONS = {
    "silu": silu,
    "identity": identity,
    "relu": relu,
    "tanh": np.tanh,
    "zero": zero,
}
"""Base (residual) activations that the importers reproduce, by name."""


def base_activation(name, library, allowed):
    """Return the numpy function for activation ``name`` after checking it is one of ``allowed``."""
    if name not in allowed:
        raise ModelImportError(
            f"unsupported {library} base activation {name!r}; kanc reproduces {', '.join(allowed)}")
    return BASE_ACTIVATIONS[name]
