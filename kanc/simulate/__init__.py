"""Bit-exact host simulation of a quantized model (docs/fixed_point_spec.md).

``simulate`` runs the fast Cython kernel; ``kanc.simulate.reference`` contains the
slow numpy model of the spec used as a test oracle.
"""
from kanc.simulate.simulator import (
    SimulationResult, Simulator, check_int_inputs, predict_classes, simulate, simulate_real,
)

__all__ = ["SimulationResult", "Simulator", "check_int_inputs", "predict_classes", "simulate", "simulate_real"]
