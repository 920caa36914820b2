"""Read a pykan checkpoint written by ``MultKAN.saveckpt(path)`` without running any of its code.

``saveckpt`` writes ``<path>_config.yml`` (yaml.dump of the constructor settings and
the symbolic function names) and ``<path>_state`` (torch.save of the state dict),
plus ``<path>_cache_data``, which the forward pass does not need.

The YAML is read with a SafeLoader extended by two narrow constructors:

* numpy scalars (``!!python/object/apply:numpy._core.multiarray.scalar`` and the
  numpy 1.x spelling ``numpy.core...``), written when a setting such as
  ``grid_eps`` or a width is a numpy number. The constructor decodes the stored
  bytes with the stored dtype code, accepting only bool, integer and float codes.
* a ``torch.nn.SiLU`` or ``torch.nn.Identity`` object as ``base_fun_name``, which
  pykan 0.2.8 writes after ``prune_input`` (it passes the function instead of its
  name). It becomes the name "silu" or "identity" without building the object.

Every other Python tag is rejected by SafeLoader. The state is read with
``torch.load(..., weights_only=True, map_location="cpu")``.
"""
import os
import re

import numpy as np

from kanc.importers.common import INSTALL_HINT, ModelImportError, require_torch, tensor_to_numpy

CONFIG_SUFFIX = "_config.yml"
STATE_SUFFIX = "_state"

NUMPY_SCALAR_TAGS = (
    "tag:yaml.org,2002:python/object/apply:numpy._core.multiarray.scalar",
    "tag:yaml.org,2002:python/object/apply:numpy.core.multiarray.scalar",
)
TORCH_ACTIVATION_TAGS = {
    "tag:yaml.org,2002:python/object:torch.nn.modules.activation.SiLU": "silu",
    "tag:yaml.org,2002:python/object:torch.nn.modules.linear.Identity": "identity",
}
_NUMBER_DTYPE = re.compile(r"^[biuf][1248]$")


def checkpoint_paths(path):
    """Return (config path, state path) for a saveckpt prefix, also accepting either file's own name."""
    path = os.fspath(path)
    for suffix in (CONFIG_SUFFIX, STATE_SUFFIX):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return path + CONFIG_SUFFIX, path + STATE_SUFFIX


def _numpy_scalar_constructor(loader, node):
    """Rebuild a numpy bool, int or float scalar from its dtype code and raw bytes."""
    import yaml

    if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
        raise yaml.constructor.ConstructorError(None, None, "numpy scalar without (dtype, bytes)", node.start_mark)
    dtype_node, bytes_node = node.value

    code, byte_order = None, "="
    if isinstance(dtype_node, yaml.MappingNode):
        for key_node, value_node in dtype_node.value:
            key = key_node.value
            if key == "args" and isinstance(value_node, yaml.SequenceNode) and value_node.value:
                code = value_node.value[0].value
            elif key == "state" and isinstance(value_node, yaml.SequenceNode) and len(value_node.value) > 1:
                byte_order = value_node.value[1].value
    if not isinstance(code, str) or not _NUMBER_DTYPE.match(code) or byte_order not in ("<", ">", "|", "="):
        raise yaml.constructor.ConstructorError(
            None, None, f"numpy scalar of dtype {code!r} (byte order {byte_order!r}) is not a plain number",
            node.start_mark)

    raw = loader.construct_yaml_binary(bytes_node)
    dtype = np.dtype(code)
    if byte_order in ("<", ">"):
        dtype = dtype.newbyteorder(byte_order)
    if len(raw) != dtype.itemsize:
        raise yaml.constructor.ConstructorError(
            None, None, f"numpy scalar of dtype {code} has {len(raw)} bytes", node.start_mark)
    return np.frombuffer(raw, dtype=dtype)[0].item()


def _activation_constructor(loader, node):
    return TORCH_ACTIVATION_TAGS[node.tag]


def _config_loader():
    try:
        import yaml
    except ImportError:
        raise ModelImportError(f"reading a pykan checkpoint needs PyYAML; install it with {INSTALL_HINT}") from None

    class PykanConfigLoader(yaml.SafeLoader):
        """SafeLoader that also rebuilds numpy numbers and pykan's pickled base_fun objects as plain values."""

    for tag in NUMPY_SCALAR_TAGS:
        PykanConfigLoader.add_constructor(tag, _numpy_scalar_constructor)
    for tag in TORCH_ACTIVATION_TAGS:
        PykanConfigLoader.add_constructor(tag, _activation_constructor)
    return yaml, PykanConfigLoader


def read_pykan_config(path):
    """Parse a pykan ``_config.yml`` into a dict, rejecting any Python object other than numbers."""
    yaml, loader = _config_loader()
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.load(handle, Loader=loader)
    except FileNotFoundError:
        raise ModelImportError(
            f"pykan config not found: {path}; pass the path given to saveckpt (without '_config.yml')") from None
    except yaml.YAMLError as exc:
        raise ModelImportError(
            f"pykan config {path} cannot be read safely: {exc}. kanc accepts plain YAML values, numpy "
            "numbers and a SiLU or Identity base_fun_name; edit the file to use plain values") from None
    if not isinstance(config, dict):
        raise ModelImportError(f"pykan config {path} is not a YAML mapping")
    return config


def read_pykan_state(path):
    """Load a pykan ``_state`` file into a dict of numpy arrays with ``torch.load(weights_only=True)``."""
    torch = require_torch("reading a pykan checkpoint")
    if not os.path.isfile(path):
        raise ModelImportError(
            f"pykan state file not found: {path}; pass the path given to saveckpt (without '_state')")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # UnpicklingError, RuntimeError or OSError, depending on the damage
        raise ModelImportError(
            f"pykan state file {path} cannot be read with weights_only=True ({type(exc).__name__}: {exc})") from None
    if not hasattr(state, "items"):
        raise ModelImportError(f"pykan state file {path} contains a {type(state).__name__}, expected a state dict")
    return {str(name): tensor_to_numpy(value) for name, value in state.items()}


def read_pykan_checkpoint(path):
    """Return (config dict, state arrays) of the checkpoint that ``saveckpt(path)`` wrote."""
    config_path, state_path = checkpoint_paths(path)
    return read_pykan_config(config_path), read_pykan_state(state_path)
