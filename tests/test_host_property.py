"""Property test: generated C on the host (ASan + UBSan) == Cython simulator == numpy oracle, bit for bit.

Hypothesis draws at least 200 random models per run (shapes, segment counts,
table extremes, requantizers that saturate, dense and sparse layers, int16-extreme inputs). Compiling one
binary per model would take minutes, so the drawn cases are collected first and
all models are compiled into one sanitized runner, which also shows that the
name prefixes keep the models apart at link time. A failure names the case
(seed, widths, segment range) so it can be rebuilt on its own.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanc.build.host import build_host_runner, run_runner
from kanc.build.toolchain import host_cc, sanitizers_available
from kanc.errors import ToolchainError
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate.reference import reference_forward
from kanc.simulate.simulator import simulate

N_EXAMPLES = 200
SAMPLE_BUDGET = 6000
"""Largest n_in * n_out * S_max per layer a drawn case may have, to keep the batch compile short."""

INT16_EXTREMES = [-32768, -32767, -1, 0, 1, 32766, 32767]


@st.composite
def model_cases(draw):
    n_layers = draw(st.integers(1, 3))
    widths = [draw(st.integers(1, 16)) for _ in range(n_layers + 1)]
    max_segments = draw(st.integers(4, 256))
    largest_layer = max(a * b for a, b in zip(widths[:-1], widths[1:]))
    max_segments = max(4, min(max_segments, SAMPLE_BUDGET // largest_layer))
    min_segments = draw(st.integers(4, max_segments))
    extreme_fraction = draw(st.sampled_from([0.0, 0.3, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    # Rows drawn by hypothesis itself, biased to the int16 ends (far outside any input domain).
    drawn_rows = draw(st.lists(
        st.lists(st.one_of(st.sampled_from(INT16_EXTREMES), st.integers(-32768, 32767)),
                 min_size=widths[0], max_size=widths[0]),
        min_size=1, max_size=4))
    return {"widths": widths, "min_segments": min_segments, "max_segments": max_segments,
            "extreme_fraction": extreme_fraction, "seed": seed, "drawn_rows": drawn_rows}


def build_case(index, case):
    rng = np.random.default_rng(case["seed"])
    model = random_quantized_model(rng, case["widths"], case["min_segments"], case["max_segments"],
                                   case["extreme_fraction"], name=f"case{index}")
    n_in = case["widths"][0]
    x_q = np.concatenate([
        np.array(case["drawn_rows"], dtype=np.int16).reshape(-1, n_in),
        np.full((1, n_in), -32768, dtype=np.int16),
        np.full((1, n_in), 32767, dtype=np.int16),
        random_inputs(rng, 24, n_in),
    ])
    return model, x_q


def collect_cases():
    cases = []

    @settings(max_examples=N_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=model_cases())
    def collect(case):
        cases.append(case)

    collect()
    return cases


@pytest.fixture(scope="module")
def sanitized_cc():
    try:
        cc = host_cc()
    except ToolchainError as exc:
        pytest.skip(str(exc))
    if not sanitizers_available(cc):
        pytest.skip(f"{cc} cannot build with ASan and UBSan")
    return cc


def test_host_c_matches_simulator_and_oracle(sanitized_cc, tmp_path):
    cases = collect_cases()
    assert len(cases) >= N_EXAMPLES

    built = [build_case(index, case) for index, case in enumerate(cases)]
    # One wide model at the full segment range, so every run covers the largest tables.
    wide_rng = np.random.default_rng(2024)
    wide = random_quantized_model(wide_rng, [16, 16, 16], 256, 256, 0.3, name="wide")
    built.append((wide, random_inputs(wide_rng, 64, 16)))

    executable = build_host_runner([model for model, _ in built], tmp_path, sanitize=True, optimize="-O0")

    widths_seen, segments_seen = set(), set()
    sparse_layers = dense_layers = empty_nodes = 0
    for index, (model, x_q) in enumerate(built):
        where = f"{model.name} ({cases[index] if index < len(cases) else 'wide 16-16-16, S=256'})"
        y_c = run_runner(executable, model, x_q, sanitize=True)
        y_oracle, _ = reference_forward(model, x_q)
        y_sim = simulate(model, x_q).outputs

        assert y_c.dtype == np.int16
        assert np.array_equal(y_c, y_oracle), f"host C != numpy oracle for {where}"
        assert np.array_equal(y_sim, y_oracle), f"simulator != numpy oracle for {where}"
        widths_seen.update(model.widths)
        segments_seen.update(int(s) for layer in model.layers for s in layer.segments)
        for layer in model.layers:
            sparse_layers += layer.is_sparse
            dense_layers += not layer.is_sparse
            empty_nodes += int((layer.row_lengths() == 0).sum())

    # The batch really spans the drawn ranges, ends included.
    assert {1, 16} <= widths_seen
    assert 4 in segments_seen
    assert 256 in segments_seen
    # Random models mix dense and sparse layers (spec 2.7), including nodes without live edges.
    assert sparse_layers >= 50
    assert dense_layers >= 50
    assert empty_nodes >= 20
