"""Sparse layers (spec section 2.7): pruned edges have no samples, no index entries and no edge term.

The sparse models here are derived from dense random models by zeroing some
edges and cutting their samples out of the table with plain slicing written for
these tests, so the expected table layout does not come from the code under test.
"""
import copy

import numpy as np
import pytest

from kanc.build.host import build_host_runner, run_runner
from kanc.build.toolchain import host_cc
from kanc.emit.c_source import model_sizes, render_source
from kanc.errors import ModelFileError, ToolchainError
from kanc.io.npzfile import read_model_file
from kanc.model.kan import FloatKAN
from kanc.plot.edge_data import table_polyline
from kanc.quantize.qmodel import FORMAT, VERSION, QuantizedModel
from kanc.quantize.quantizer import QuantizationError, quantize
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.quantize.report import measure_table_errors
from kanc.simulate import Simulator
from kanc.simulate.reference import reference_forward


def dense_edge_slices(layer):
    """Return {(j, i): slice} of every edge in a dense node-major table (spec 2.5, written out)."""
    slices = {}
    position = 0
    for j in range(layer.n_out):
        for i in range(layer.n_in):
            count = int(layer.segments[i]) + 1
            slices[(j, i)] = slice(position, position + count)
            position += count
    return slices


def prune(dense_model, masks):
    """Return (zeroed, sparse): the dense model with pruned edges set to 0, and the same model made sparse.

    ``masks`` has one (n_out, n_in) bool array or None per layer. Biases are kept, so
    both models obey the accumulator invariant whenever the dense one does.
    """
    zeroed = copy.deepcopy(dense_model)
    sparse = copy.deepcopy(dense_model)
    for index, mask in enumerate(masks):
        if mask is None:
            continue
        layer = dense_model.layers[index]
        slices = dense_edge_slices(layer)
        zero_table = layer.table.copy()
        kept = []
        for j in range(layer.n_out):
            for i in range(layer.n_in):
                if mask[j, i]:
                    kept.append(layer.table[slices[(j, i)]])
                else:
                    zero_table[slices[(j, i)]] = 0
        zeroed.layers[index].table = zero_table
        sparse.layers[index].table = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int16)
        sparse.layers[index].edge_mask = mask.copy()
    return zeroed.validate(), sparse.validate()


@pytest.fixture(scope="module")
def pruned_pair():
    rng = np.random.default_rng(31)
    dense = random_quantized_model(rng, [5, 6, 3], min_segments=4, max_segments=40, sparse_fraction=0.0,
                                   name="pruned")
    mask0 = rng.random((6, 5)) < 0.5
    mask0[2] = False                                  # node 2 of layer 0 has no live edge
    mask1 = np.ones((3, 6), dtype=bool)
    mask1[1, 4] = False
    zeroed, sparse = prune(dense, [mask0, mask1])
    return dense, zeroed, sparse, rng


# ---------------------------------------------------------------------- layout and sizes

def test_table_bytes_drop_by_pruned_samples(pruned_pair):
    dense, _, sparse, _ = pruned_pair
    pruned_bytes = 0
    for dense_layer, sparse_layer in zip(dense.layers, sparse.layers):
        for j in range(dense_layer.n_out):
            for i in range(dense_layer.n_in):
                if not sparse_layer.live_mask()[j, i]:
                    pruned_bytes += (int(dense_layer.segments[i]) + 1) * 2
    dense_sizes = model_sizes(dense)
    sparse_sizes = model_sizes(sparse)
    assert pruned_bytes > 0
    assert sparse_sizes["table_bytes"] == dense_sizes["table_bytes"] - pruned_bytes
    assert dense_sizes["index_bytes"] == 0


def test_index_bytes_count_nodes_and_live_edges(pruned_pair):
    _, _, sparse, _ = pruned_pair
    live = [int(layer.edge_mask.sum()) for layer in sparse.layers]
    expected = 2 * (6 + live[0]) + 2 * (3 + live[1])
    sizes = model_sizes(sparse)
    assert sizes["index_bytes"] == expected
    assert sizes["flash_bytes"] == sizes["table_bytes"] + sizes["param_bytes"] + expected


def test_edge_starts_follow_spec_formula(pruned_pair):
    _, _, sparse, _ = pruned_pair
    layer = sparse.layers[0]
    mask = layer.edge_mask
    starts = layer.edge_starts()
    position = 0
    for j in range(layer.n_out):
        for i in range(layer.n_in):
            if mask[j, i]:
                assert starts[j, i] == position
                position += int(layer.segments[i]) + 1
            else:
                assert starts[j, i] == -1
    assert position == len(layer.table)
    assert layer.row_lengths()[2] == 0


def test_edge_table_rejects_pruned_edge(pruned_pair):
    _, _, sparse, _ = pruned_pair
    with pytest.raises(ValueError, match=r"edge \(node 2, input 0\) is pruned"):
        sparse.layers[0].edge_table(2, 0)


def test_n_edges_counts_live_edges(pruned_pair):
    dense, _, sparse, _ = pruned_pair
    assert dense.n_edges == 5 * 6 + 6 * 3
    assert sparse.n_edges == int(sparse.layers[0].edge_mask.sum()) + 17


# ---------------------------------------------------------------------- same outputs as zero edges

def test_masked_zero_edges_match_dense_in_oracle_and_simulator(pruned_pair):
    _, zeroed, sparse, rng = pruned_pair
    x_q = random_inputs(rng, 300, 5)
    y_dense, clamps_dense = reference_forward(zeroed, x_q)
    y_sparse, clamps_sparse = reference_forward(sparse, x_q)
    assert np.array_equal(y_sparse, y_dense)
    for dense_counts, sparse_counts in zip(clamps_dense, clamps_sparse):
        assert np.array_equal(sparse_counts, dense_counts)

    simulator = Simulator(sparse)
    for simd in (True, False):
        result = simulator.run(x_q, simd=simd)
        assert np.array_equal(result.outputs, y_dense), f"simulator differs (simd={simd})"


def test_layer_without_live_edges_outputs_bias():
    rng = np.random.default_rng(5)
    dense = random_quantized_model(rng, [3, 4, 2], max_segments=16, sparse_fraction=0.0)
    zeroed, sparse = prune(dense, [None, np.zeros((2, 4), dtype=bool)])
    assert len(sparse.layers[1].table) == 0
    x_q = random_inputs(rng, 50, 3)
    y_q, _ = reference_forward(sparse, x_q)
    assert np.array_equal(y_q, reference_forward(zeroed, x_q)[0])
    # With only biases left, every row gives the same outputs.
    assert np.all(y_q == y_q[0])
    assert np.array_equal(Simulator(sparse).run(x_q).outputs, y_q)


@pytest.fixture(scope="module")
def host_runner(tmp_path_factory, pruned_pair):
    try:
        host_cc()
    except ToolchainError as exc:
        pytest.skip(str(exc))
    rng = np.random.default_rng(9)
    dense = random_quantized_model(rng, [3, 4, 2], max_segments=16, sparse_fraction=0.0, name="empty")
    _, empty = prune(dense, [np.zeros((4, 3), dtype=bool), None])
    models = [pruned_pair[1], pruned_pair[2], empty]
    models[0] = copy.deepcopy(models[0])
    models[0].name = "zeroed"
    executable = build_host_runner(models, tmp_path_factory.mktemp("sparse_host"), sanitize=False)
    return executable, models


def test_host_c_sparse_matches_zeroed_dense(host_runner, pruned_pair):
    executable, (zeroed, sparse, _) = host_runner
    x_q = random_inputs(np.random.default_rng(12), 200, 5)
    y_sparse = run_runner(executable, sparse, x_q)
    assert np.array_equal(y_sparse, run_runner(executable, zeroed, x_q))
    assert np.array_equal(y_sparse, reference_forward(sparse, x_q)[0])


def test_host_c_layer_without_live_edges(host_runner):
    executable, (_, _, empty) = host_runner
    x_q = random_inputs(np.random.default_rng(13), 40, 3)
    assert np.array_equal(run_runner(executable, empty, x_q), reference_forward(empty, x_q)[0])


def test_generated_source_skips_pruned_edges(pruned_pair):
    dense, _, sparse, _ = pruned_pair
    source = render_source(sparse)
    live0 = int(sparse.layers[0].edge_mask.sum())
    assert f"pruned_l0_live_inputs[{live0}]" in source
    assert f"pruned_l0_table[{len(sparse.layers[0].table)}]" in source
    assert "kanc_sparse_layer_accumulate(pruned_coords, 6u" in source
    assert "live_inputs" not in render_source(dense)


# ---------------------------------------------------------------------- file format

def test_sparse_model_file_round_trip(tmp_path, pruned_pair):
    _, _, sparse, _ = pruned_pair
    sparse.metadata = {}
    path = tmp_path / "sparse.kq"
    sparse.save(path)
    header, arrays = read_model_file(path, FORMAT, {VERSION})
    assert arrays["layer0/edge_mask"].dtype == np.uint8
    assert "layer1/edge_mask" in arrays

    loaded = QuantizedModel.load(path)
    for original, restored in zip(sparse.layers, loaded.layers):
        assert np.array_equal(restored.edge_mask, original.edge_mask)
        assert restored.edge_mask.dtype == np.bool_
        assert np.array_equal(restored.table, original.table)
    x_q = random_inputs(np.random.default_rng(2), 30, 5)
    assert np.array_equal(reference_forward(loaded, x_q)[0], reference_forward(sparse, x_q)[0])


def test_dense_model_file_has_no_mask(tmp_path, pruned_pair):
    dense = copy.deepcopy(pruned_pair[0])
    dense.layers[0].edge_mask = np.ones((6, 5), dtype=bool)     # all live: stays dense
    path = tmp_path / "dense.kq"
    dense.save(path)
    _, arrays = read_model_file(path, FORMAT, {VERSION})
    assert not any(name.endswith("edge_mask") for name in arrays)
    loaded = QuantizedModel.load(path)
    assert all(layer.edge_mask is None for layer in loaded.layers)


def test_file_mask_with_bad_value_is_rejected(tmp_path, pruned_pair):
    _, _, sparse, _ = pruned_pair
    path = tmp_path / "bad.kq"
    sparse.save(path)
    header, arrays = read_model_file(path, FORMAT, {VERSION})
    arrays["layer0/edge_mask"] = arrays["layer0/edge_mask"] * 2
    from kanc.io.npzfile import write_model_file
    write_model_file(path, header, arrays)
    with pytest.raises(ModelFileError, match=r"layer0/edge_mask.*contain only 0 \(pruned\) and 1 \(live\), found 2"):
        QuantizedModel.load(path)


# ---------------------------------------------------------------------- validation

def test_mask_of_wrong_shape_is_rejected(pruned_pair):
    _, _, sparse, _ = pruned_pair
    broken = copy.deepcopy(sparse)
    broken.layers[0].edge_mask = broken.layers[0].edge_mask.T.copy()
    with pytest.raises(ModelFileError, match=r"layer 0: edge_mask must be a bool array of shape .* \(6, 5\), "
                                             r"got bool shape \(5, 6\)"):
        broken.validate()


def test_mask_of_wrong_dtype_is_rejected(pruned_pair):
    _, _, sparse, _ = pruned_pair
    broken = copy.deepcopy(sparse)
    broken.layers[1].edge_mask = broken.layers[1].edge_mask.astype(np.int64)
    with pytest.raises(ModelFileError, match=r"layer 1: edge_mask must be a bool array"):
        broken.validate()


def test_table_length_must_match_mask(pruned_pair):
    _, _, sparse, _ = pruned_pair
    broken = copy.deepcopy(sparse)
    broken.layers[1].edge_mask[0, 0] = False          # one more pruned edge, but the samples stay
    expected = len(sparse.layers[1].table) - (int(sparse.layers[1].segments[0]) + 1)
    with pytest.raises(ModelFileError, match=f"table must be a 1-D int16 array of {expected} samples"):
        broken.validate()


# ---------------------------------------------------------------------- quantizer, report, plot

@pytest.fixture(scope="module")
def pruned_float_model():
    model = FloatKAN.create([3, 4, 2], grid=5, rng=np.random.default_rng(4))
    model.layers[0].edge_mask[1, :] = False           # node 1 of layer 0 loses every edge
    model.layers[0].edge_mask[3, 0] = False
    model.layers[1].edge_mask[0, 2] = False
    for layer in model.layers:
        layer.apply_edge_mask()
    x = np.random.default_rng(6).uniform(-1.0, 1.0, size=(400, 3))
    return model, x


def test_quantizer_builds_sparse_layers(pruned_float_model):
    model, x = pruned_float_model
    qmodel = quantize(model, x, name="sparse_q", segments=12)
    assert [layer.is_sparse for layer in qmodel.layers] == [True, True]
    assert np.array_equal(qmodel.layers[0].edge_mask, model.layers[0].edge_mask)
    # 13 samples per live edge: layer 0 has 12 - 4 live edges, layer 1 has 8 - 1.
    assert len(qmodel.layers[0].table) == 13 * 8
    assert len(qmodel.layers[1].table) == 13 * 7

    x_q = qmodel.quantize_inputs(x)
    y_q, _ = reference_forward(qmodel, x_q)
    assert np.array_equal(Simulator(qmodel).run(x_q).outputs, y_q)
    error = np.abs(qmodel.dequantize_outputs(y_q) - model.layer_inputs(x)[-1])
    assert error.max() <= qmodel.metadata["quantizer"]["output_error_bound_max"]


def test_quantizer_bounds_are_zero_for_pruned_edges(pruned_float_model):
    model, x = pruned_float_model
    qmodel = quantize(model, x, name="sparse_q", segments=12)
    entry = qmodel.metadata["quantizer"]["layers"][0]
    assert np.asarray(entry["bound_edge"])[1].tolist() == [0.0, 0.0, 0.0]
    assert np.asarray(entry["measured_table_error"])[1].tolist() == [0.0, 0.0, 0.0]
    measured = measure_table_errors(qmodel, model)
    assert measured[1][0, 2] == 0.0
    assert measured[1][0, 0] > 0.0


def test_quantizer_rejects_nonzero_pruned_edge(pruned_float_model):
    model, x = pruned_float_model
    broken = model.copy()
    broken.layers[0].edge_mask[0, 0] = False          # masked but its weights are still there
    with pytest.raises(QuantizationError, match=r"layer 0: edge \(node 0, input 0\) is pruned in edge_mask but"):
        quantize(broken, x, name="broken", segments=8)


def test_plot_polyline_of_pruned_edge_is_zero(pruned_float_model):
    model, x = pruned_float_model
    qmodel = quantize(model, x, name="sparse_q", segments=12)
    knot_t, knot_value, table_t, table_value = table_polyline(qmodel.layers[0], 1, 2, -2.0, 2.0)
    assert len(knot_t) == 0
    assert len(knot_value) == 0
    assert table_t.tolist() == [-2.0, 2.0]
    assert table_value.tolist() == [0.0, 0.0]
    knot_t, knot_value, _, _ = table_polyline(qmodel.layers[0], 0, 2, -2.0, 2.0)
    assert len(knot_t) == 13


# ---------------------------------------------------------------------- boards under emulation

def test_uno_sparse_model_exact(tmp_path, pruned_pair):
    from kanc.build import avr
    from toolchain_checks import AVR_PACKAGES, require_tool
    for tool in ("avr-gcc", "avr-size", "gcc", "pkg-config"):
        require_tool(tool, AVR_PACKAGES)
    _, _, sparse, _ = pruned_pair
    x_q = random_inputs(np.random.default_rng(14), 40, 5)
    expected = reference_forward(sparse, x_q)[0]
    for extra_cflags in [(), ("-DKANC_NO_FAST_EDGE",)]:
        board = avr.UnoBoard(extra_cflags=extra_cflags)
        build = board.build(sparse, tmp_path / f"uno{len(extra_cflags)}", firmware="verify")
        run = board.run_cases(build, x_q)
        assert np.array_equal(run.outputs, expected), f"Uno differs (cflags {extra_cflags})"


@pytest.mark.parametrize("board_name", ["rp2040", "portenta_h7"])
def test_cortex_m_sparse_model_exact(tmp_path, pruned_pair, board_name):
    from kanc.build.boards import get_board
    from toolchain_checks import ARM_PACKAGES, require_tool
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool, ARM_PACKAGES)
    _, _, sparse, _ = pruned_pair
    x_q = random_inputs(np.random.default_rng(15), 40, 5)
    board = get_board(board_name)
    build = board.build(sparse, tmp_path, firmware="verify")
    run = board.run_cases(build, x_q)
    assert np.array_equal(run.outputs, reference_forward(sparse, x_q)[0])
