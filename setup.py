"""Build the Cython simulator kernels and ship the C runtime and board HALs as package data."""
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "kanc._sim",
        ["kernels/sim.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    ),
]

setup(
    packages=[
        "kanc", "kanc.model", "kanc.train", "kanc.quantize", "kanc.simulate",
        "kanc.emit", "kanc.build", "kanc.io", "kanc.datasets", "kanc.verify",
        "kanc.importers", "kanc.plot",
        "kanc.runtime_c", "kanc.boards",
    ],
    package_dir={"kanc.runtime_c": "runtime_c", "kanc.boards": "boards"},
    package_data={
        "kanc.datasets": ["data/*.csv", "data/*.md"],
        "kanc.runtime_c": ["*.h", "*.c", "*.md"],
        "kanc.boards": ["*/*", "*/*/*", "*.md"],
    },
    ext_modules=cythonize(extensions, language_level=3),
)
