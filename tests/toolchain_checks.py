"""Toolchain and optional-module checks shared by the tests: skip on a developer machine, fail under CI=true.

``tests/run.sh`` (and so ``.ci/run``) installs every Debian package the board tests
need, so under CI a missing tool is a broken set-up, not a reason to skip.
"""
import importlib
import os
import shutil

import pytest

AVR_PACKAGES = "gcc-avr avr-libc binutils-avr simavr libsimavr-dev libelf-dev pkg-config gcc"
ARDUINO_PACKAGES = "arduino-core-avr arduino-builder gcc-avr avr-libc"
ARM_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc"


def require_tool(name, packages, present=None):
    """Skip (or fail under CI=true) unless ``name`` is present.

    ``present`` defaults to whether ``name`` is a program on PATH; pass a bool for a
    library or a data folder. ``packages`` names the Debian packages that provide it.
    """
    if present is None:
        present = shutil.which(name) is not None
    if present:
        return
    message = f"{name} is not installed (apt-get install --no-install-recommends {packages})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_module(name):
    """Import an optional module; skip when it is missing, except under CI where that is a failure."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name)
