"""The Cython simulator against the numpy oracle, rshift_round, and input checks of the Python API."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanc import _sim
from kanc.errors import DataError, KancError, ModelFileError
from kanc.quantize.qmodel import QuantizedLayer, QuantizedModel, Requantizer
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate import Simulator, predict_classes, simulate, simulate_real
from kanc.simulate.reference import reference_forward, rshift_round

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT16_EXTREMES = [INT16_MIN, INT16_MIN + 1, -1, 0, 1, INT16_MAX - 1, INT16_MAX]


def rshift_round_by_definition(a, n):
    """floor((a + 2^(n-1)) / 2^n) in unbounded Python ints: round half toward plus infinity."""
    if n == 0:
        return a
    return (a + (1 << (n - 1))) // (1 << n)


# ------------------------------------------------------------------ rshift_round

# (a, n, expected): expected is a / 2^n rounded to nearest, ties toward plus infinity.
RSHIFT_CASES = [
    (5, 0, 5), (-5, 0, -5),
    (1, 1, 1),          # 0.5 rounds up
    (-1, 1, 0),         # -0.5 is a tie and rounds toward plus infinity
    (-2, 1, -1),
    (-3, 1, -1),        # -1.5 -> -1
    (-5, 1, -2),        # -2.5 -> -2
    (-5, 2, -1),        # -1.25 -> -1
    (-6, 2, -1),        # -1.5 -> -1
    (-7, 2, -2),        # -1.75 -> -2
    (6, 2, 2),          # 1.5 -> 2
    (INT32_MAX, 31, 1),     # 0.99999... -> 1, where (a + 2^30) >> 31 would overflow int32
    (INT32_MIN, 31, -1),
    (INT32_MIN, 1, -(1 << 30)),
    (INT32_MAX, 1, 1 << 30),    # 1073741823.5 -> 1073741824
]


@pytest.mark.parametrize("a, n, expected", RSHIFT_CASES)
def test_rshift_round_table(a, n, expected):
    assert _sim.rshift_round(a, n) == expected
    assert int(rshift_round(a, n)) == expected
    assert rshift_round_by_definition(a, n) == expected


@settings(max_examples=300, deadline=None)
@given(a=st.integers(INT32_MIN, INT32_MAX), n=st.integers(0, 31))
def test_rshift_round_matches_definition(a, n):
    expected = rshift_round_by_definition(a, n)
    assert _sim.rshift_round(a, n) == expected
    assert int(rshift_round(a, n)) == expected


def test_rshift_round_rejects_bad_shift():
    with pytest.raises(ValueError, match="outside"):
        _sim.rshift_round(1, 32)


# ------------------------------------------------------------------ Cython == oracle

@st.composite
def models_and_inputs(draw):
    widths = draw(st.lists(st.integers(1, 16), min_size=2, max_size=4))
    min_segments = draw(st.integers(4, 256))
    max_segments = draw(st.integers(min_segments, 256))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    model = random_quantized_model(rng, widths, min_segments=min_segments, max_segments=max_segments,
                                   extreme_fraction=draw(st.sampled_from([0.0, 0.3, 1.0])))

    # Random rows, rows drawn by hypothesis (biased to the int16 extremes) and all-extreme rows.
    value = st.one_of(st.sampled_from(INT16_EXTREMES), st.integers(INT16_MIN, INT16_MAX))
    drawn = draw(st.lists(st.lists(value, min_size=widths[0], max_size=widths[0]), min_size=1, max_size=8))
    rows = [random_inputs(rng, 24, widths[0]), np.array(drawn, dtype=np.int16)]
    rows += [np.full((1, widths[0]), extreme, dtype=np.int16) for extreme in (INT16_MIN, INT16_MAX, 0)]
    return model, np.concatenate(rows)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=models_and_inputs())
def test_cython_equals_oracle(case):
    model, x_q = case
    expected_y, expected_clamps = reference_forward(model, x_q)
    simulator = Simulator(model)

    for simd in (True, False):
        result = simulator.run(x_q, simd=simd)
        assert result.outputs.dtype == np.int16
        assert np.array_equal(result.outputs, expected_y), f"outputs differ (simd={simd})"
        assert len(result.clamp_counts) == len(model.layers)
        for layer_index, counts in enumerate(result.clamp_counts):
            assert np.array_equal(counts, expected_clamps[layer_index]), \
                f"layer {layer_index} clamp counts differ (simd={simd})"
        assert np.array_equal(result.output_clamp_counts, expected_clamps[-1]), \
            f"output clamp counts differ (simd={simd})"


def test_batch_equals_single_rows():
    rng = np.random.default_rng(7)
    model = random_quantized_model(rng, [5, 9, 3])
    x_q = random_inputs(rng, 40, 5)
    batch = simulate(model, x_q)
    rows = np.concatenate([simulate(model, x_q[n:n + 1]).outputs for n in range(len(x_q))])
    assert np.array_equal(batch.outputs, rows)


def test_clamp_counts_cover_every_saturation_path():
    # Over many random models, each layer's inputs and the outputs must clamp at least once
    # and not clamp at least once, so the counters are exercised in both directions.
    rng = np.random.default_rng(11)
    saw_clamp = saw_free = saw_output_clamp = 0
    for _ in range(20):
        model = random_quantized_model(rng, [4, 6, 3])
        x_q = random_inputs(rng, 64, 4)
        result = simulate(model, x_q)
        _, expected = reference_forward(model, x_q)
        assert np.array_equal(np.concatenate(result.clamp_counts), np.concatenate(expected[:-1]))
        counts = np.concatenate(result.clamp_counts)
        saw_clamp += int(np.any(counts > 0))
        saw_free += int(np.any(counts < len(x_q)))
        saw_output_clamp += int(np.any(result.output_clamp_counts > 0))
    assert saw_clamp > 0
    assert saw_free > 0
    assert saw_output_clamp > 0


def identity_requantizer(count):
    """p = 0, M = 1, r = 0, z = 0: v equals the int16-saturated input."""
    zeros = np.zeros(count, dtype=np.int64)
    return Requantizer(zeros, np.ones(count, dtype=np.int64), zeros, zeros)


def boundary_model():
    """One input with S = 4 (U = 1023), four nodes with zero tables and biases around the int16 limits."""
    layer = QuantizedLayer(
        segments=np.array([4]), in_requant=identity_requantizer(1),
        domain_lo=np.array([0.0]), domain_hi=np.array([1.0]),
        table=np.zeros(4 * 5, dtype=np.int16),
        bias=np.array([INT16_MIN - 1, INT16_MIN, INT16_MAX, INT16_MAX + 1], dtype=np.int32),
        table_scale=np.ones(4),
    )
    return QuantizedModel(
        name="boundary", task="regression", input_scale=np.ones(1), input_offset=np.zeros(1),
        layers=[layer], out_requant=identity_requantizer(4),
        output_scale=np.ones(4), output_offset=np.zeros(4),
    ).validate()


@pytest.mark.parametrize("simd", [True, False], ids=["sse2", "scalar"])
def test_clamp_boundaries_are_exclusive(simd):
    # u = x_q here, so 0 and U = 1023 are in range and -1 and 1024 clamp (spec 2.2).
    x_q = np.array([[-1], [0], [1023], [1024]], dtype=np.int16)
    model = boundary_model()
    result = Simulator(model).run(x_q, simd=simd)
    assert result.clamp_counts[0].tolist() == [2]
    _, oracle_counts = reference_forward(model, x_q)
    assert oracle_counts[0].tolist() == [2]

    # Outputs: bias -32769 and 32768 saturate, -32768 and 32767 do not, for all four samples.
    assert result.output_clamp_counts.tolist() == [4, 0, 0, 4]
    assert result.outputs.tolist() == [[INT16_MIN, INT16_MIN, INT16_MAX, INT16_MAX]] * 4


def sparse_hand_model():
    """Two inputs (S = 4 and 2), three nodes; live edges (0, 0) and (2, 1) only, so node 1 is its bias.

    T_00 = 100 * s gives e_00 = 100 * u_0, and T_21 = 10 + 10 * s gives e_21 = 2560 + 10 * u_1.
    """
    layer = QuantizedLayer(
        segments=np.array([4, 2]), in_requant=identity_requantizer(2),
        domain_lo=np.zeros(2), domain_hi=np.ones(2),
        table=np.array([0, 100, 200, 300, 400, 10, 20, 30], dtype=np.int16),
        bias=np.array([5, -7, 0], dtype=np.int32),
        table_scale=np.ones(3),
        edge_mask=np.array([[True, False], [False, False], [False, True]]),
    )
    return QuantizedModel(
        name="sparse_hand", task="regression", input_scale=np.ones(2), input_offset=np.zeros(2),
        layers=[layer], out_requant=identity_requantizer(3),
        output_scale=np.ones(3), output_offset=np.zeros(3),
    ).validate()


@pytest.mark.parametrize("simd", [True, False], ids=["sse2", "scalar"])
def test_sparse_layer_hand_values(simd):
    x_q = np.array([[0, 0], [300, 511], [1023, -5]], dtype=np.int16)
    # Row 2: u_0 = 1023 gives 102300, which the output step saturates to 32767; u_1 clamps to 0.
    expected = [[5, -7, 2560], [30005, -7, 7670], [32767, -7, 2560]]
    model = sparse_hand_model()
    assert Simulator(model).run(x_q, simd=simd).outputs.tolist() == expected
    assert reference_forward(model, x_q)[0].tolist() == expected


def test_sparse_random_models_equal_oracle():
    rng = np.random.default_rng(21)
    sparse_layers = 0
    for _ in range(40):
        widths = [int(w) for w in rng.integers(1, 12, size=int(rng.integers(2, 5)))]
        model = random_quantized_model(rng, widths, max_segments=64, sparse_fraction=1.0)
        sparse_layers += sum(layer.is_sparse for layer in model.layers)
        x_q = random_inputs(rng, 40, widths[0])
        expected_y, expected_clamps = reference_forward(model, x_q)
        simulator = Simulator(model)
        for simd in (True, False):
            result = simulator.run(x_q, simd=simd)
            assert np.array_equal(result.outputs, expected_y), f"widths {widths}, simd={simd}"
            assert np.array_equal(np.concatenate(result.clamp_counts), np.concatenate(expected_clamps[:-1]))
    assert sparse_layers >= 80


def test_empty_batch():
    model = random_quantized_model(np.random.default_rng(3), [3, 2])
    result = simulate(model, np.zeros((0, 3), dtype=np.int16))
    assert result.outputs.shape == (0, 2)
    assert result.clamp_counts[0].tolist() == [0, 0, 0]
    assert result.output_clamp_counts.tolist() == [0, 0]


def test_wider_integer_dtype_accepted():
    rng = np.random.default_rng(5)
    model = random_quantized_model(rng, [4, 3])
    x_q = random_inputs(rng, 16, 4)
    assert np.array_equal(simulate(model, x_q.astype(np.int64)).outputs, simulate(model, x_q).outputs)


# ------------------------------------------------------------------ real-valued API

def test_simulate_real_converts_both_ways():
    rng = np.random.default_rng(9)
    model = random_quantized_model(rng, [3, 4, 2])
    x = rng.normal(scale=0.5, size=(20, 3))
    result = simulate_real(model, x)
    x_q = model.quantize_inputs(x)
    assert np.array_equal(result.outputs, simulate(model, x_q).outputs)
    expected_real = result.outputs.astype(np.float64) * model.output_scale + model.output_offset
    assert np.array_equal(result.real_outputs, expected_real)


def test_simulate_real_rejects_nan():
    model = random_quantized_model(np.random.default_rng(1), [2, 1])
    x = np.array([[0.1, 0.2], [0.3, np.nan]])
    with pytest.raises(DataError, match="row 1, feature 1 is NaN"):
        simulate_real(model, x)


def test_simulate_real_rejects_wrong_shape():
    model = random_quantized_model(np.random.default_rng(1), [2, 1])
    with pytest.raises(DataError, match=r"shape \(N, 2\)"):
        simulate_real(model, np.zeros((4, 3)))


def test_predict_classes_lowest_index_on_ties():
    y_q = np.array([[3, 5, 5], [-1, -1, -2], [INT16_MIN, INT16_MIN, INT16_MAX]], dtype=np.int16)
    assert predict_classes(y_q).tolist() == [1, 0, 2]


def test_predict_classes_accepts_result():
    model = random_quantized_model(np.random.default_rng(2), [3, 4])
    result = simulate(model, random_inputs(np.random.default_rng(2), 10, 3))
    assert np.array_equal(predict_classes(result), np.argmax(result.outputs, axis=1))


# ------------------------------------------------------------------ input validation

@pytest.fixture
def small_model():
    return random_quantized_model(np.random.default_rng(4), [3, 2])


def test_rejects_float_inputs(small_model):
    with pytest.raises(DataError, match="integer array.*simulate_real"):
        simulate(small_model, np.zeros((2, 3), dtype=np.float64))


def test_rejects_wrong_column_count(small_model):
    with pytest.raises(DataError, match=r"shape \(N, 3\), got shape \(2, 4\)"):
        simulate(small_model, np.zeros((2, 4), dtype=np.int16))


def test_rejects_one_dimensional_inputs(small_model):
    with pytest.raises(DataError, match="reshape"):
        simulate(small_model, np.zeros(3, dtype=np.int16))


def test_rejects_values_outside_int16(small_model):
    x_q = np.zeros((2, 3), dtype=np.int32)
    x_q[1, 2] = 40000
    with pytest.raises(DataError, match="40000"):
        simulate(small_model, x_q)


def test_errors_are_kanc_errors(small_model):
    with pytest.raises(KancError):
        simulate(small_model, np.zeros((2, 3), dtype=np.float32))


def test_rejects_model_breaking_slope_invariant(small_model):
    table = small_model.layers[0].table
    table[0], table[1] = INT16_MIN, INT16_MAX
    with pytest.raises(ModelFileError, match="slope invariant"):
        simulate(small_model, np.zeros((1, 3), dtype=np.int16))


def test_packed_model_rejects_mismatched_buffers(small_model):
    packed = _sim.PackedModel(small_model)
    x_q = np.zeros((2, 3), dtype=np.int16)
    counters = np.zeros(packed.n_clamp_counters, dtype=np.int64)
    with pytest.raises(ValueError, match="y_q must have shape"):
        packed.run(x_q, np.zeros((2, 3), dtype=np.int16), counters)
    with pytest.raises(ValueError, match="clamp_count must have"):
        packed.run(x_q, np.zeros((2, 2), dtype=np.int16), counters[:-1])
