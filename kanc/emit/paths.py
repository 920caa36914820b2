"""Locate the C runtime and board HAL sources, in a source checkout or an installed kanc."""
import pathlib

from kanc.errors import ToolchainError

_PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent

RUNTIME_HEADERS = ("kanc_arith.h", "kanc_board.h", "kanc_model.h", "kanc_requant.h",
                   "kanc_layer.h", "kanc_float.h")
"""Runtime files that every generated model folder receives."""


def _data_dir(name):
    # Installed: setup.py maps the folder into the package as kanc/<name>.
    # Source checkout: the folder sits next to the kanc package.
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ToolchainError(f"kanc data folder '{name}' not found next to {_PACKAGE_DIR}; "
                         "reinstall kanc or run from a full source checkout")


def runtime_dir():
    """Return the folder of the portable C runtime (runtime_c)."""
    return _data_dir("runtime_c")


def board_dir(board):
    """Return boards/<board>, the folder that contains that board's kanc_hal.h."""
    folder = _data_dir("boards") / board
    if not (folder / "kanc_hal.h").is_file():
        known = sorted(p.parent.name for p in (_data_dir("boards")).glob("*/kanc_hal.h"))
        raise ToolchainError(f"board {board!r} has no kanc_hal.h; boards with a HAL: {', '.join(known)}")
    return folder
