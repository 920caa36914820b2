#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, then run it.
#
#   bash tests/run.sh [pytest arguments]
#
# Installs the board toolchains and emulators from Debian's packages (when run as
# root and any is missing), the Python test dependencies, the optional importer
# dependencies (CPU build of torch 2.13.0 and pykan 0.2.8), builds the Cython
# simulator in place, and runs pytest from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(gcc make pkg-config libelf-dev
              gcc-avr avr-libc binutils-avr simavr libsimavr-dev
              gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
              arduino-core-avr arduino-builder)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "tests/run.sh: installing Debian packages: ${missing[*]}"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        echo "tests/run.sh: missing Debian packages (board tests will skip, or fail under CI=true): ${missing[*]}" >&2
    fi
fi

python3 -m pip install -q "numpy>=1.24" "Cython>=3.0" "setuptools>=64" wheel \
    "pytest>=7" "hypothesis>=6.80" "scipy>=1.9" "matplotlib>=3.6" "pyyaml>=6"
# torch: pinned CPU build (an unpinned torch pulls a multi-GB CUDA build).
python3 -m pip install -q "torch==2.13.0" "pykan==0.2.8" sympy pandas scikit-learn tqdm

python3 setup.py -q build_ext --inplace
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m pytest -q -p no:cacheprovider "$@"
