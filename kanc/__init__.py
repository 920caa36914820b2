"""kanc: compile Kolmogorov-Arnold Networks into bit-exact fixed-point C for microcontrollers.

The pipeline, one module each:

- ``kanc.train``: KANRegressor / KANClassifier, float B-spline KANs trained in numpy;
- ``kanc.importers``: models trained with pykan, efficient-kan, FastKAN, ChebyKAN;
- ``kanc.quantize``: ``quantize`` turns a float model into int16 segment tables;
- ``kanc.simulate``: ``simulate`` computes the device's exact integer outputs;
- ``kanc.emit``: ``write_c_sources`` writes the C model and runtime;
- ``kanc.build`` / ``kanc.verify``: host and board builds, emulator runs.

The names below are re-exported for convenience.
"""
from kanc.emit.c_source import model_sizes, write_c_sources
from kanc.quantize.qmodel import QuantizedModel
from kanc.quantize.quantizer import quantize
from kanc.simulate import simulate, simulate_real
from kanc.train.estimators import KANClassifier, KANRegressor

__version__ = "0.1.0"

__all__ = ["KANClassifier", "KANRegressor", "QuantizedModel", "quantize", "simulate", "simulate_real",
           "write_c_sources", "model_sizes", "__version__"]
