"""The worked example of docs/fixed_point_spec.md section 3, through the oracle and the Cython kernel.

Every expected number below is written in the spec, where it was derived by hand.
"""
import numpy as np
import pytest

from kanc.quantize.qmodel import QuantizedLayer, QuantizedModel, Requantizer
from kanc.simulate import Simulator
from kanc.simulate.reference import layer_forward, reference_forward, requantize, rshift_round


def requantizer(p, M, r, z):
    return Requantizer(np.array([p]), np.array([M]), np.array([r]), np.array([z]))


def spec_example_model():
    """One layer, one input, one output: S_0 = 4, tables and requantizers of spec section 3."""
    layer = QuantizedLayer(
        segments=np.array([4]),
        in_requant=requantizer(0, 20000, 15, 512),
        domain_lo=np.array([-1.0]), domain_hi=np.array([1.0]),
        table=np.array([-1000, -200, 300, 900, 1500], dtype=np.int16),
        bias=np.array([1280], dtype=np.int32),
        table_scale=np.array([1.0 / 256]),
    )
    model = QuantizedModel(
        name="spec_example", task="regression",
        input_scale=np.array([1.0 / 1024]), input_offset=np.array([0.0]),
        layers=[layer], out_requant=requantizer(8, 16384, 14, 0),
        output_scale=np.array([1.0 / 1024]), output_offset=np.array([0.0]),
    )
    return model.validate()


EXAMPLE_INPUTS = np.array([[1000], [-3000]], dtype=np.int16)
EXAMPLE_OUTPUTS = np.array([[1503], [-995]], dtype=np.int16)


def test_oracle_steps_for_positive_input():
    model = spec_example_model()
    layer = model.layers[0]
    req = layer.in_requant
    a = np.array([[1000]], dtype=np.int64)

    assert int(rshift_round(20000000, 15)) == 610
    v, pre_clamped = requantize(a, req.pre_shift, req.multiplier, req.shift, req.offset)
    assert int(v[0, 0]) == 1122
    assert not pre_clamped[0, 0]

    acc, clamped = layer_forward(layer, a)
    assert int(acc[0, 0]) == 384680
    assert clamped[0, 0]

    out = model.out_requant
    assert int(rshift_round(384680, 8)) == 1503
    assert int(rshift_round(24625152, 14)) == 1503
    y, _ = requantize(acc, out.pre_shift, out.multiplier, out.shift, out.offset)
    assert int(y[0, 0]) == 1503


def test_oracle_steps_for_negative_input():
    model = spec_example_model()
    layer = model.layers[0]
    req = layer.in_requant
    a = np.array([[-3000]], dtype=np.int64)

    assert int(rshift_round(-60000000, 15)) == -1831
    v, _ = requantize(a, req.pre_shift, req.multiplier, req.shift, req.offset)
    assert int(v[0, 0]) == -1319

    acc, clamped = layer_forward(layer, a)
    assert int(acc[0, 0]) == -254720
    assert clamped[0, 0]


def test_oracle_example_outputs():
    y_q, clamp_counts = reference_forward(spec_example_model(), EXAMPLE_INPUTS)
    assert y_q.dtype == np.int16
    assert np.array_equal(y_q, EXAMPLE_OUTPUTS)
    # Both inputs saturate in step 5 (u = 1122 > 1023 and v = -1319 < 0); no output saturates.
    assert clamp_counts[0].tolist() == [2]
    assert clamp_counts[1].tolist() == [0]


@pytest.mark.parametrize("simd", [True, False], ids=["sse2", "scalar"])
def test_cython_example_outputs(simd):
    result = Simulator(spec_example_model()).run(EXAMPLE_INPUTS, simd=simd)
    assert result.outputs.dtype == np.int16
    assert np.array_equal(result.outputs, EXAMPLE_OUTPUTS)
    assert result.clamp_counts[0].tolist() == [2]
    assert result.output_clamp_counts.tolist() == [0]
