"""Tests of the quantizer: formats, invariants, error bounds and argument checks.

The float models here are small analytic KANs that implement kanc.model.protocol
directly. The integer forward pass ``spec_forward`` is a plain numpy reading of
docs/fixed_point_spec.md sections 2.1 to 2.6, written for these tests.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kanc.errors import DataError, KancError, ModelFileError
from kanc.quantize.qmodel import FRAC_BITS, INT16_MAX, INT32_MAX, QuantizedModel
from kanc.quantize.quantizer import QuantizationError, calibrated_domain, quantize
from kanc.quantize.report import add_error_report, format_report, measure_table_errors
from kanc.quantize.requant_params import design_requantizer, multiplier_and_shift


# ---------------------------------------------------------------------- analytic float models

class AnalyticKAN:
    """A float KAN whose edge functions are numpy callables: functions[layer][j][i](t)."""

    def __init__(self, functions, biases, task="regression"):
        self.functions = functions
        self.biases = [np.asarray(b, dtype=np.float64) for b in biases]
        self.task = task
        self.widths = [len(functions[0][0])] + [len(layer) for layer in functions]

    def edge_values(self, layer, t):
        t = np.asarray(t, dtype=np.float64)
        n_out, n_in = self.widths[layer + 1], self.widths[layer]
        values = np.empty((len(t), n_out, n_in))
        for j in range(n_out):
            for i in range(n_in):
                values[:, j, i] = self.functions[layer][j][i](t[:, i])
        return values

    def node_bias(self, layer):
        return self.biases[layer]

    def layer_inputs(self, x):
        values = [np.asarray(x, dtype=np.float64)]
        for layer in range(len(self.widths) - 1):
            values.append(self.edge_values(layer, values[-1]).sum(axis=2) + self.node_bias(layer))
        return values


def two_layer_model():
    return AnalyticKAN(
        [[[np.sin, np.square], [np.tanh, lambda t: 0.3 * t]],
         [[np.cos, lambda t: t ** 3 / 10]]],
        [[0.1, -0.2], [0.5]])


# ---------------------------------------------------------------------- integer forward pass (spec 2.1-2.6)

def rshift_round(a, n):
    if n == 0:
        return a
    return (a >> n) + ((a >> (n - 1)) & 1)


def requantize(a, requant, k, low, high):
    t = np.clip(rshift_round(a, int(requant.pre_shift[k])), -32768, 32767)
    m = rshift_round(t * int(requant.multiplier[k]), int(requant.shift[k]))
    return np.clip(m + int(requant.offset[k]), low, high)


def spec_forward(qmodel, x_q):
    """Return int16 outputs (N, n_outputs); asserts that no accumulator leaves int32."""
    a = np.asarray(x_q, dtype=np.int64)
    for layer in qmodel.layers:
        u_max = layer.coordinate_max()
        u = np.stack([requantize(a[:, i], layer.in_requant, i, 0, u_max[i]) for i in range(layer.n_in)], axis=1)
        segment, fraction = u >> FRAC_BITS, u & ((1 << FRAC_BITS) - 1)
        table = layer.table.astype(np.int64)
        starts = layer.edge_starts()
        acc = np.broadcast_to(layer.bias.astype(np.int64), (len(a), layer.n_out)).copy()
        for i in range(layer.n_in):
            index = starts[None, :, i] + segment[:, i, None]
            left, right = table[index], table[index + 1]
            acc += left * (1 << FRAC_BITS) + (right - left) * fraction[:, i, None]
        assert np.abs(acc).max() <= INT32_MAX
        a = acc
    outputs = [requantize(a[:, j], qmodel.out_requant, j, -32768, 32767) for j in range(qmodel.n_outputs)]
    return np.stack(outputs, axis=1).astype(np.int16)


def output_errors(qmodel, model, x):
    y = qmodel.dequantize_outputs(spec_forward(qmodel, qmodel.quantize_inputs(x)))
    return np.abs(y - model.layer_inputs(x)[-1])


def output_bound(qmodel):
    return np.asarray(qmodel.metadata["quantizer"]["output"]["error_bound"])


# ---------------------------------------------------------------------- bounds hold

def test_analytic_model_within_bounds():
    model = two_layer_model()
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=(400, 2))
    qmodel = quantize(model, x, segments=16)

    test_x = rng.uniform(-2, 2, size=(3000, 2))
    errors = output_errors(qmodel, model, test_x)
    bound = output_bound(qmodel)
    assert np.all(errors.max(axis=0) <= bound)
    # The bound is worst case but should not be vacuous for this smooth model.
    assert bound.max() < 0.2


def test_measured_table_error_within_bound():
    model = two_layer_model()
    x = np.random.default_rng(2).uniform(-2, 2, size=(300, 2))
    for segments in (1, 7, 64):
        qmodel = quantize(model, x, segments=segments)
        for entry, measured in zip(qmodel.metadata["quantizer"]["layers"], measure_table_errors(qmodel, model)):
            bound = np.asarray(entry["bound_interpolation"]) + np.asarray(entry["bound_table_rounding"])
            assert np.all(measured <= bound)
            assert np.allclose(entry["measured_table_error"], measured, rtol=0, atol=0)


def test_more_segments_reduce_error():
    model = two_layer_model()
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, size=(300, 2))
    coarse = output_errors(quantize(model, x, segments=4), model, x).max()
    fine = output_errors(quantize(model, x, segments=128), model, x).max()
    assert fine < coarse / 10


def test_quantized_model_round_trips(tmp_path):
    model = two_layer_model()
    x = np.random.default_rng(4).uniform(-2, 2, size=(200, 2))
    qmodel = quantize(model, x, name="sine_net", segments=[8, [5, 200]])
    path = tmp_path / "sine_net.npz"
    qmodel.save(path)
    loaded = QuantizedModel.load(path)
    assert loaded.metadata == qmodel.metadata
    assert np.array_equal(spec_forward(loaded, loaded.quantize_inputs(x)),
                          spec_forward(qmodel, qmodel.quantize_inputs(x)))
    assert loaded.layers[1].segments.tolist() == [5, 200]


def test_classification_agrees_on_clear_rows():
    model = AnalyticKAN(
        [[[np.sin, np.cos], [np.cos, np.sin], [lambda t: 0.5 * t, lambda t: -0.5 * t]]],
        [[0.0, 0.1, -0.1]], task="classification")
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, size=(2000, 2))
    qmodel = quantize(model, x, segments=32)
    summary = add_error_report(qmodel, model, x, label="calibration", forward=spec_forward)

    logits = model.layer_inputs(x)[-1]
    predicted = np.argmax(spec_forward(qmodel, qmodel.quantize_inputs(x)), axis=1)
    ordered = np.sort(logits, axis=1)
    # A row whose top two logits differ by more than twice the bound cannot change class.
    clear = ordered[:, -1] - ordered[:, -2] > 2 * output_bound(qmodel).max()
    assert clear.mean() > 0.9
    assert np.array_equal(predicted[clear], np.argmax(logits, axis=1)[clear])
    assert summary["class_agreement"] >= clear.mean()
    assert "class agreement" in format_report(qmodel.metadata)


# ---------------------------------------------------------------------- domains and formats

def test_domain_widened_by_margin():
    model = two_layer_model()
    x = np.column_stack([np.linspace(-1, 3, 50), np.linspace(0, 2, 50)])
    qmodel = quantize(model, x, segments=8, margin=0.25)
    layer = qmodel.layers[0]
    assert np.allclose(layer.domain_lo, [-1 - 0.25 * 4, 0 - 0.25 * 2], rtol=0, atol=1e-12)
    assert np.allclose(layer.domain_hi, [3 + 0.25 * 4, 2 + 0.25 * 2], rtol=0, atol=1e-12)
    # The domain maps to x_q in [-16384, 16384]: half of the int16 range.
    ends = qmodel.quantize_inputs(np.column_stack([layer.domain_lo, layer.domain_hi]).T)
    assert ends[0].tolist() == [-16384, -16384]
    assert ends[1].tolist() == [16384, 16384]
    # Hidden-layer domains cover the calibrated hidden values.
    hidden = model.layer_inputs(x)[1]
    assert np.all(hidden.min(axis=0) > qmodel.layers[1].domain_lo)
    assert np.all(hidden.max(axis=0) < qmodel.layers[1].domain_hi)


def test_layer0_requantizer_maps_domain_to_coordinates():
    model = two_layer_model()
    x = np.random.default_rng(6).uniform(-2, 2, size=(100, 2))
    qmodel = quantize(model, x, segments=[[256, 4], 8])
    requant = qmodel.layers[0].in_requant
    # x_q = 16384 is the domain end, u = S * 256: with S = 256 the real map is
    # u = 2 * x_q + 32768, with S = 4 it is u = x_q / 32 + 512.
    assert (requant.multiplier[0] * 2.0 ** -requant.shift[0], requant.offset[0]) == (2.0, 32768)
    assert (requant.multiplier[1] * 2.0 ** -requant.shift[1], requant.offset[1]) == (1 / 32, 512)
    assert requant.pre_shift.tolist() == [0, 0]


def test_out_of_domain_inputs_clamp_to_domain_end():
    model = two_layer_model()
    x = np.random.default_rng(7).uniform(-1, 1, size=(200, 2))
    qmodel = quantize(model, x, segments=16)
    lo, hi = qmodel.layers[0].domain_lo, qmodel.layers[0].domain_hi
    width = hi - lo
    at_end = spec_forward(qmodel, qmodel.quantize_inputs(hi[None, :]))
    beyond = np.stack([hi + 0.3 * width, hi + 5 * width, hi + 1e9])
    assert np.all(spec_forward(qmodel, qmodel.quantize_inputs(beyond)) == at_end)
    at_start = spec_forward(qmodel, qmodel.quantize_inputs(lo[None, :]))
    below = np.stack([lo - 0.3 * width, lo - 1e9])
    assert np.all(spec_forward(qmodel, qmodel.quantize_inputs(below)) == at_start)


def test_input_domains_override_layer0():
    model = two_layer_model()
    x = np.random.default_rng(8).uniform(-1, 1, size=(100, 2))
    qmodel = quantize(model, x, segments=8, input_domains=[[-4.0, 4.0], [-1.5, 2.5]])
    assert qmodel.layers[0].domain_lo.tolist() == [-4.0, -1.5]
    assert qmodel.layers[0].domain_hi.tolist() == [4.0, 2.5]
    assert qmodel.input_offset.tolist() == [0.0, 0.5]


def test_output_format_uses_half_of_int16():
    model = two_layer_model()
    x = np.random.default_rng(9).uniform(-2, 2, size=(500, 2))
    qmodel = quantize(model, x, segments=32)
    y_q = spec_forward(qmodel, qmodel.quantize_inputs(x)).astype(np.int64)
    assert 15000 < np.abs(y_q).max() < 17500


# ---------------------------------------------------------------------- degenerate cases

def test_constant_feature_gets_guard_domain():
    model = two_layer_model()
    x = np.column_stack([np.random.default_rng(10).uniform(-1, 1, 100), np.full(100, 3.0)])
    qmodel = quantize(model, x, segments=8, margin=0.1)
    assert qmodel.layers[0].domain_lo[1] == pytest.approx(3.0 - 1.5 - 0.3, abs=1e-12)
    assert qmodel.layers[0].domain_hi[1] == pytest.approx(3.0 + 1.5 + 0.3, abs=1e-12)
    errors = output_errors(qmodel, model, x)
    assert np.all(errors.max(axis=0) <= output_bound(qmodel))


def test_zero_node_and_constant_output():
    zero = lambda t: np.zeros_like(t)
    model = AnalyticKAN([[[np.sin, zero], [zero, zero]], [[zero, zero]]], [[0.0, 0.0], [2.5]])
    x = np.random.default_rng(11).uniform(-1, 1, size=(50, 2))
    qmodel = quantize(model, x, segments=4)
    y = qmodel.dequantize_outputs(spec_forward(qmodel, qmodel.quantize_inputs(x)))
    assert np.all(y == 2.5)
    assert qmodel.layers[1].table.tolist() == [0] * 10


def test_narrow_offset_node_is_degenerate():
    # Node 0 of layer 0 stays within 1e4 +- 4e-5. Its edge carries the 1e4, so one
    # table step is about 1e4 / 32767 and one accumulator step (1.2e-3) is wider than
    # the whole domain: no multiplier below 2^15 resolves it, even from acc_offset.
    model = AnalyticKAN(
        [[[lambda t: 1e4 + 2e-5 * t, np.zeros_like], [np.sin, np.cos]],
         [[lambda t: 1e-3 * (t - 1e4), np.tanh]]],
        [[0.0, 0.0], [0.0]])
    x = np.random.default_rng(12).uniform(-2, 2, size=(300, 2))
    qmodel = quantize(model, x, segments=16)
    assert qmodel.metadata["quantizer"]["layers"][1]["requantizer_degenerate"] == [True, False]
    assert qmodel.layers[1].in_requant.multiplier[0] == 0
    errors = output_errors(qmodel, model, x)
    assert np.all(errors.max(axis=0) <= output_bound(qmodel))


# ---------------------------------------------------------------------- segment selection

def test_target_error_picks_more_segments_for_curvier_edges():
    model = AnalyticKAN([[[np.sin, lambda t: np.sin(4 * t), lambda t: 0.5 * t]]], [[0.0]])
    x = np.random.default_rng(13).uniform(-3, 3, size=(300, 3))
    qmodel = quantize(model, x, target_error=3e-3)
    entry = qmodel.metadata["quantizer"]["layers"][0]
    s_gentle, s_curvy, s_linear = qmodel.layers[0].segments.tolist()
    assert s_curvy > s_gentle > s_linear
    assert s_linear == 1
    # Curvature 16x larger needs about 4x the segments.
    assert 3.5 <= s_curvy / s_gentle <= 4.5
    assert np.all(np.asarray(entry["bound_interpolation"]) < 3e-3)
    assert entry["target_met"] == [True, True, True]
    # One segment fewer would miss the target, so the count is the smallest.
    width = qmodel.layers[0].domain_hi - qmodel.layers[0].domain_lo
    curvature = np.asarray(entry["max_curvature"])[0]
    for i in (0, 1):
        s = qmodel.layers[0].segments[i]
        assert (width[i] / (s - 1)) ** 2 / 8 * curvature[i] >= 3e-3


def test_target_error_out_of_reach_caps_segments():
    model = AnalyticKAN([[[lambda t: np.sin(40 * t)]]], [[0.0]])
    x = np.linspace(-3, 3, 100)[:, None]
    qmodel = quantize(model, x, target_error=1e-6, max_segments=100)
    assert qmodel.layers[0].segments.tolist() == [100]
    assert qmodel.metadata["quantizer"]["layers"][0]["target_met"] == [False]


# ---------------------------------------------------------------------- adversarial models

@pytest.mark.parametrize("amplitude", [1e-9, 1e9])
def test_extreme_amplitudes_keep_invariants(amplitude):
    model = AnalyticKAN(
        [[[lambda t: amplitude * np.sin(t), lambda t: amplitude * t ** 2]],
         [[lambda t: t / amplitude]]],
        [[amplitude * 3.0], [0.0]])
    x = np.random.default_rng(14).uniform(-2, 2, size=(200, 2))
    qmodel = quantize(model, x, segments=32)
    assert qmodel.metadata["quantizer"]["accumulator_bound_max"] <= INT32_MAX
    errors = output_errors(qmodel, model, x)
    assert np.all(errors.max(axis=0) <= output_bound(qmodel))


def test_many_inputs_use_accumulator_limit():
    n_inputs = 600
    model = AnalyticKAN([[[lambda t, a=a: a * np.tanh(t) for a in np.linspace(0.5, 1.5, n_inputs)]]], [[0.0]])
    x = np.random.default_rng(15).uniform(-2, 2, size=(200, n_inputs))
    qmodel = quantize(model, x, segments=8)
    bound = qmodel.metadata["quantizer"]["layers"][0]["accumulator_bound"][0]
    # 600 full-range edges would need 600 * 2^8 * 32767 > 2^31; the scale must
    # shrink the tables until the sum just fits.
    assert 0.99 * INT32_MAX < bound <= INT32_MAX
    assert np.abs(qmodel.layers[0].table.astype(np.int64)).max() < INT16_MAX
    errors = output_errors(qmodel, model, x)
    assert np.all(errors.max(axis=0) <= output_bound(qmodel))


def test_large_bias_and_steep_edges_keep_slopes():
    # A near-step edge puts the whole table range into one segment.
    model = AnalyticKAN([[[lambda t: np.tanh(200 * t), lambda t: 1e3 * t]]], [[5e4]])
    x = np.random.default_rng(16).uniform(-1, 1, size=(200, 2))
    qmodel = quantize(model, x, segments=3)
    table = qmodel.layers[0].table.astype(np.int64)
    assert np.abs(np.diff(table[:4])).max() <= INT16_MAX
    errors = output_errors(qmodel, model, x)
    assert np.all(errors.max(axis=0) <= output_bound(qmodel))


def test_requantizer_proofs_in_metadata():
    model = two_layer_model()
    x = np.random.default_rng(17).uniform(-2, 2, size=(100, 2))
    meta = quantize(model, x, segments=64).metadata["quantizer"]
    for entry in meta["layers"]:
        assert max(entry["requantizer_max_abs_sum"]) <= INT32_MAX
        assert max(entry["accumulator_bound"]) <= INT32_MAX
    assert max(meta["output"]["requantizer_max_abs_sum"]) <= INT32_MAX


def random_edge(rng):
    """Return a random smooth edge a * sin(w * t + phase) + b * t + c * t^2 with amplitudes over 12 decades."""
    a, b, c = 10.0 ** rng.uniform(-6, 6, size=3) * rng.choice([-1, 1], size=3) * (rng.random(3) < 0.8)
    w, phase = rng.uniform(0.1, 5), rng.uniform(0, 2 * np.pi)
    return lambda t: a * np.sin(w * t + phase) + b * t + c * t ** 2


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_random_models_within_bounds(seed):
    rng = np.random.default_rng(seed)
    widths = [int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))]
    functions = [[[random_edge(rng) for _ in range(n_in)] for _ in range(n_out)]
                 for n_in, n_out in zip(widths[:-1], widths[1:])]
    biases = [rng.normal(size=n_out) * 10.0 ** rng.uniform(-3, 3) for n_out in widths[1:]]
    model = AnalyticKAN(functions, biases)
    centre = rng.uniform(-1e3, 1e3, size=widths[0]) * (rng.random(widths[0]) < 0.5)
    spread = 10.0 ** rng.uniform(-3, 1, size=widths[0])
    x = centre + spread * rng.uniform(-1, 1, size=(int(rng.integers(1, 200)), widths[0]))
    segments = [rng.integers(1, 257, size=n).tolist() for n in widths[:-1]]

    qmodel = quantize(model, x, segments=segments, margin=float(rng.uniform(0, 0.5)))
    for layer in qmodel.metadata["quantizer"]["layers"]:
        assert max(layer["accumulator_bound"]) <= INT32_MAX
    errors = output_errors(qmodel, model, x)
    assert np.all(errors.max(axis=0) <= output_bound(qmodel))


# ---------------------------------------------------------------------- multiplier choice

def test_multiplier_and_shift_precision():
    rng = np.random.default_rng(18)
    for k in np.exp2(rng.uniform(-17, 15, size=2000)):
        multiplier, shift = multiplier_and_shift(float(k))
        assert 1 << 14 <= multiplier <= INT16_MAX
        assert 0 <= shift <= 31
        assert abs(multiplier * 2.0 ** -shift - k) <= 2.0 ** -shift / 2
    assert multiplier_and_shift(2.0 ** 15) is None
    assert multiplier_and_shift(1.0) == (1 << 14, 14)


def test_design_requantizer_chooses_smallest_pre_shift():
    # Accumulator unit 1e-6, domain [-40, 40]: reach 4e7 units needs 2^p >= 4e7 / 32766.5.
    design = design_requantizer(1e-6, -40.0, 40.0, -40.0, 80.0 / 2048)
    expected_p = math.ceil(math.log2(4e7 / 32766.5))
    assert design.pre_shift == expected_p
    assert not design.degenerate


# ---------------------------------------------------------------------- argument errors

def test_nan_calibration_rejected():
    x = np.zeros((10, 2))
    x[3, 1] = np.nan
    with pytest.raises(DataError, match="row 3, feature 1"):
        quantize(two_layer_model(), x)


@pytest.mark.parametrize("shape", [(10,), (10, 3), (0, 2)])
def test_wrong_calibration_shape_rejected(shape):
    with pytest.raises(DataError, match="calibration data"):
        quantize(two_layer_model(), np.zeros(shape))


@pytest.mark.parametrize("segments", [0, 257, 3.5, True, [8], [8, [4, 4, 4]], [8, [4, 300]]])
def test_bad_segments_rejected(segments):
    with pytest.raises(QuantizationError, match="segments"):
        quantize(two_layer_model(), np.zeros((5, 2)), segments=segments)


@pytest.mark.parametrize("options, message", [
    ({"segments": 8, "target_error": 0.1}, "either segments or target_error"),
    ({"target_error": -1.0}, "target_error"),
    ({"target_error": 0.1, "max_segments": 0}, "max_segments"),
    ({"margin": -0.1}, "margin"),
    ({"margin": float("nan")}, "margin"),
    ({"name": "2fast"}, "C identifier"),
    ({"input_domains": [[1.0, 0.0], [0.0, 1.0]]}, "input_domains"),
    ({"input_domains": [[0.0, 1.0]]}, "input_domains"),
])
def test_bad_options_rejected(options, message):
    with pytest.raises(KancError, match=message):
        quantize(two_layer_model(), np.random.default_rng(0).uniform(-1, 1, (5, 2)), **options)


def test_non_finite_edge_values_rejected():
    # sqrt is finite on the calibration data but NaN on the widened domain below 0.
    model = AnalyticKAN([[[np.sqrt]]], [[0.0]])
    with np.errstate(invalid="ignore"), pytest.raises(QuantizationError, match="not finite"):
        quantize(model, np.linspace(0.0, 1.0, 10)[:, None], segments=4)


def test_incomplete_model_rejected():
    class NoBias:
        task, widths = "regression", [1, 1]
        layer_inputs = edge_values = None
    with pytest.raises(TypeError, match="node_bias"):
        quantize(NoBias(), np.zeros((3, 1)))


def test_calibrated_domain_guards_constant_columns():
    lo, hi = calibrated_domain(np.array([[0.0, -200.0], [0.0, -200.0]]), 0.0)
    assert lo.tolist() == [-0.5, -300.0]
    assert hi.tolist() == [0.5, -100.0]


# ---------------------------------------------------------------------- simulator agreement

def test_report_with_simulator_matches_spec_forward():
    pytest.importorskip("kanc._sim", reason="simulator extension not built")
    model = two_layer_model()
    x = np.random.default_rng(19).uniform(-3, 3, size=(500, 2))
    qmodel = quantize(model, x[:200], segments=[16, 37])
    with_simulator = add_error_report(qmodel, model, x)
    with_spec = add_error_report(qmodel, model, x, label="spec", forward=spec_forward)
    assert with_simulator == with_spec


def test_simulator_runs_float_kan_bit_exact():
    kan = pytest.importorskip("kanc.model.kan")
    pytest.importorskip("kanc._sim", reason="simulator extension not built")
    from kanc.simulate import simulate
    rng = np.random.default_rng(0)
    model = kan.FloatKAN.create([2, 4, 1], grid=6, rng=rng, spline_noise=0.3)
    x = rng.normal(size=(1000, 2))
    qmodel = quantize(model, x, segments=64)
    x_q = qmodel.quantize_inputs(x)
    assert np.array_equal(simulate(qmodel, x_q).outputs, spec_forward(qmodel, x_q))


def test_float_kan_within_bounds_on_simulator():
    kan = pytest.importorskip("kanc.model.kan")
    pytest.importorskip("kanc._sim", reason="simulator extension not built")
    rng = np.random.default_rng(20)
    model = kan.FloatKAN.create([3, 5, 2], grid=6, rng=rng, spline_noise=0.5)
    x = rng.normal(size=(500, 3))
    for segments in (16, 128):
        qmodel = quantize(model, x, segments=segments)
        summary = add_error_report(qmodel, model, rng.normal(size=(2000, 3)))
        assert summary["samples_in_domain"] > 1900
        measured = np.asarray(summary["max_abs_error_in_domain_per_output"])
        assert np.all(measured <= np.asarray(summary["error_bound_per_output"]))
    assert summary["max_abs_error_in_domain"] < 0.05


@pytest.mark.parametrize("degree", [0, 1])
def test_bound_holds_for_low_degree_splines(degree):
    from kanc.quantize.report import end_to_end_errors
    from kanc.train.estimators import KANRegressor

    rng = np.random.default_rng(degree)
    x = rng.uniform(-1.0, 1.0, size=(300, 2))
    y = np.abs(x[:, 0]) + 0.5 * np.sign(x[:, 1])
    model = KANRegressor(hidden=(4,), k=degree, base="none", epochs=40, seed=0).fit(x, y).model_
    qmodel = quantize(model, x, name="steps", segments=32)
    summary = end_to_end_errors(qmodel, model, x)
    assert summary["samples_in_domain"] == len(x)
    assert summary["max_abs_error_in_domain"] <= qmodel.metadata["quantizer"]["output_error_bound_max"]


def test_model_name_with_runtime_prefix_rejected():
    from kanc.quantize.random_model import random_quantized_model

    qmodel = random_quantized_model(np.random.default_rng(0), [2, 2])
    qmodel.name = "kanc_layer"
    with pytest.raises(ModelFileError, match="starts with 'kanc_'"):
        qmodel.validate()


# ---------------------------------------------------------------------- accumulator offset

def offset_output_model(output_mean):
    """Two-layer regression model whose output has standard deviation about 0.23 around ``output_mean``.

    The mean sits in the last layer's bias, as in a FloatKAN that folds y_mean into it.
    """
    return AnalyticKAN(
        [[[np.sin, np.square], [np.tanh, lambda t: 0.3 * t]],
         [[lambda t: 0.422 * np.cos(t), lambda t: 0.0422 * t ** 3]]],
        [[0.1, -0.2], [output_mean]])


def test_large_output_mean_keeps_resolution():
    rng = np.random.default_rng(30)
    x = rng.uniform(-1.5, 1.5, size=(4000, 2))
    errors = {}
    for output_mean in (0.0, 1e4):
        model = offset_output_model(output_mean)
        assert 0.2 < model.layer_inputs(x)[-1].std() < 0.26
        qmodel = quantize(model, x, segments=64)
        measured = output_errors(qmodel, model, x).max(axis=0)
        assert np.all(measured <= output_bound(qmodel))
        errors[output_mean] = measured.max()

        # The output node counts from output_offset, so its table scale ignores the mean.
        assert qmodel.layers[-1].acc_offset.tolist() == qmodel.output_offset.tolist()
        assert abs(qmodel.output_offset[0] - output_mean) < 1.0

    # Without acc_offset this model measured 0.42 at mean 1e4 and 0.00084 at mean 0.
    assert errors[1e4] <= 1.1 * errors[0.0]
    assert errors[0.0] < 0.002


def test_hidden_node_offset_folds_into_requantizer():
    # Hidden node 0 sits near 5e3; the next layer removes that offset in its edge function.
    model = AnalyticKAN(
        [[[np.sin, lambda t: 0.5 * t], [np.tanh, np.cos]],
         [[lambda t: np.sin(t - 5e3), lambda t: 0.5 * t ** 2]]],
        [[5e3, 0.0], [0.0]])
    rng = np.random.default_rng(31)
    x = rng.uniform(-2, 2, size=(2000, 2))
    qmodel = quantize(model, x, segments=32)

    hidden, second = qmodel.layers
    centres = 0.5 * (second.domain_lo + second.domain_hi)
    assert hidden.acc_offset.tolist() == centres.tolist()
    assert abs(hidden.acc_offset[0] - 5e3) < 2.0
    # Measured from the domain centre, u = 0 lies half a domain below, so z = S_i * 2^F / 2.
    assert second.in_requant.offset.tolist() == (second.segments * (1 << FRAC_BITS) // 2).tolist()
    assert qmodel.metadata["quantizer"]["layers"][0]["acc_offset"] == hidden.acc_offset.tolist()

    errors = output_errors(qmodel, model, rng.uniform(-2, 2, size=(3000, 2)))
    assert np.all(errors.max(axis=0) <= output_bound(qmodel))
    assert output_bound(qmodel).max() < 0.05


def test_classification_logits_share_one_offset():
    model = AnalyticKAN(
        [[[np.sin, np.cos], [np.cos, np.sin], [lambda t: 0.5 * t, lambda t: -0.5 * t]]],
        [[40.0, 40.1, 39.9]], task="classification")
    x = np.random.default_rng(32).uniform(-3, 3, size=(1000, 2))
    qmodel = quantize(model, x, segments=32)
    offsets = qmodel.layers[-1].acc_offset
    assert np.all(offsets == offsets[0])
    assert abs(offsets[0] - 40.0) < 3.0
    logits = model.layer_inputs(x)[-1]
    predicted = np.argmax(spec_forward(qmodel, qmodel.quantize_inputs(x)), axis=1)
    ordered = np.sort(logits, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] > 2 * output_bound(qmodel).max()
    assert clear.mean() > 0.9
    assert np.array_equal(predicted[clear], np.argmax(logits, axis=1)[clear])


def test_acc_offset_round_trips(tmp_path):
    model = offset_output_model(1e3)
    x = np.random.default_rng(33).uniform(-1.5, 1.5, size=(300, 2))
    qmodel = quantize(model, x, segments=16)
    path = tmp_path / "offset.npz"
    qmodel.save(path)
    loaded = QuantizedModel.load(path)
    for saved, read in zip(qmodel.layers, loaded.layers):
        assert read.acc_offset.dtype == np.float64
        assert read.acc_offset.tolist() == saved.acc_offset.tolist()
    assert loaded.layers[-1].acc_offset[0] != 0.0


def test_file_without_acc_offset_loads_as_zeros(tmp_path):
    from kanc.io.npzfile import HEADER_KEY

    model = two_layer_model()
    x = np.random.default_rng(34).uniform(-2, 2, size=(200, 2))
    qmodel = quantize(model, x, segments=8)
    path = tmp_path / "new.npz"
    qmodel.save(path)

    # Rewrite the archive the way files were written before acc_offset existed.
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if not name.endswith("/acc_offset")}
    assert HEADER_KEY in arrays
    old_path = tmp_path / "old.npz"
    with open(old_path, "wb") as handle:
        np.savez(handle, **arrays)

    loaded = QuantizedModel.load(old_path)
    for layer in loaded.layers:
        assert layer.acc_offset.dtype == np.float64
        assert layer.acc_offset.tolist() == [0.0] * layer.n_out
    assert np.array_equal(spec_forward(loaded, loaded.quantize_inputs(x)),
                          spec_forward(qmodel, qmodel.quantize_inputs(x)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_acc_offset_rejected(bad):
    from kanc.quantize.random_model import random_quantized_model

    qmodel = random_quantized_model(np.random.default_rng(0), [2, 3, 1])
    qmodel.layers[0].acc_offset[1] = bad
    with pytest.raises(ModelFileError, match="layer 0 acc_offset contains NaN or infinite"):
        qmodel.validate()
