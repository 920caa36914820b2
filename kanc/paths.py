"""Locations of the C runtime and board HAL sources, installed or in a source checkout."""
import importlib.util
import os

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _package_folder(package, repo_folder):
    # An installed kanc ships the folder as the package kanc.runtime_c / kanc.boards
    # (setup.py maps them); a source checkout has it at the repository root.
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return list(spec.submodule_search_locations)[0]
    return os.path.join(_REPO_ROOT, repo_folder)


def runtime_dir():
    """Folder with the portable C runtime (runtime_c/)."""
    return _package_folder("kanc.runtime_c", "runtime_c")


def boards_dir():
    """Folder with one sub-folder of HAL sources per board (boards/)."""
    return _package_folder("kanc.boards", "boards")


def board_dir(board):
    """Folder with the HAL sources of ``board``."""
    return os.path.join(boards_dir(), board)
