"""kanc plot: panel data, PNG output, atomic writes and the optional matplotlib dependency."""
import os
import sys

import numpy as np
import pytest

from kanc.errors import DataError, KancError
from kanc.model.importance import edge_importance
from kanc.model.kan import FloatKAN
from kanc.plot.draw import MIN_OPACITY, _opacities, format_tick
from kanc.plot.edge_data import layer_panel_data, node_labels, table_polyline
from kanc.quantize.quantizer import knot_grid, quantize
from kanc.quantize.report import table_interpolant

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_model():
    model = FloatKAN.create([2, 3, 2], rng=np.random.default_rng(11), spline_noise=1.0,
                            task="classification")
    x = np.random.default_rng(12).normal([5.0, -2.0], [2.0, 0.5], size=(120, 2))
    return model, x


@pytest.fixture(scope="module")
def small_qmodel(small_model):
    model, x = small_model
    return quantize(model, x, segments=8)


def read_png(path):
    from PIL import Image

    with open(path, "rb") as handle:
        signature = handle.read(8)
    with Image.open(path) as image:
        image.load()
        return signature, image.format, image.size, np.asarray(image.convert("L"))


# ---------------------------------------------------------------------------- panel data

def test_knots_dequantize_table_samples(small_model, small_qmodel):
    model, _ = small_model
    layer_q = small_qmodel.layers[0]

    for j in range(layer_q.n_out):
        for i in range(layer_q.n_in):
            knot_t, knot_value, _, _ = table_polyline(layer_q, j, i, layer_q.domain_lo[i], layer_q.domain_hi[i])
            samples = layer_q.edge_table(j, i).astype(np.float64)
            np.testing.assert_array_equal(knot_value, samples * layer_q.table_scale[j])
            # The same points at which the quantizer sampled phi.
            sampled = knot_grid(layer_q.domain_lo, layer_q.domain_hi, layer_q.segments)[:, i]
            np.testing.assert_array_equal(knot_t, sampled[:layer_q.segments[i] + 1])


def test_knots_agree_with_float_edges(small_model, small_qmodel):
    # The quantizer adds no per-node offset to the samples, so the dequantized
    # table meets phi at the knots up to its rounding, half a table step.
    model, _ = small_model
    for layer, layer_q in enumerate(small_qmodel.layers):
        for j in range(layer_q.n_out):
            for i in range(layer_q.n_in):
                knot_t, knot_value, _, _ = table_polyline(layer_q, j, i, layer_q.domain_lo[i],
                                                          layer_q.domain_hi[i])
                t = np.tile(knot_t[:, None], (1, layer_q.n_in))
                phi = model.edge_values(layer, t)[:, j, i]
                assert np.max(np.abs(knot_value - phi)) <= 0.5 * layer_q.table_scale[j] * (1 + 1e-9)


def test_polyline_saturates_beyond_domain(small_model, small_qmodel):
    model, x = small_model
    layer_q = small_qmodel.layers[0]
    wide = np.vstack([x, [[-40.0, -30.0]], [[60.0, 30.0]]])

    panels = layer_panel_data(model, small_qmodel, 0, points=64, inputs=wide)

    # The integer interpolant at u = 0 and u = U_i, computed by the report module.
    u_ends = np.stack([np.zeros(layer_q.n_in, dtype=np.int64), layer_q.coordinate_max()])
    ends = table_interpolant(layer_q, u_ends)
    for j in range(layer_q.n_out):
        for i in range(layer_q.n_in):
            panel = panels[j][i]
            assert panel.table_t[0] == wide[:, i].min()
            assert panel.table_t[-1] == wide[:, i].max()
            assert panel.t[0] == wide[:, i].min()
            assert panel.t[-1] == wide[:, i].max()
            assert panel.table_value[0] == pytest.approx(ends[0, j, i], rel=1e-12, abs=1e-300)
            assert panel.table_value[-1] == pytest.approx(ends[1, j, i], rel=1e-12, abs=1e-300)
            assert panel.data_range == (wide[:, i].min(), wide[:, i].max())


def test_panel_importance_matches_edge_importance(small_model, small_qmodel):
    model, x = small_model
    scores = edge_importance(model, x)
    activations = model.layer_inputs(x)

    panels = layer_panel_data(model, small_qmodel, 1, points=16, inputs=activations[1], importance=scores[1])

    for j in range(2):
        for i in range(3):
            assert panels[j][i].importance == scores[1][j, i]
            assert panels[j][i].data_range == (activations[1][:, i].min(), activations[1][:, i].max())


def test_opacity_follows_importance(small_model, small_qmodel):
    model, _ = small_model
    scores = np.array([[0.0, 1.0, 4.0], [2.0, 0.5, 3.0]])
    panels = layer_panel_data(model, small_qmodel, 0, points=8, importance=scores.T)

    opacity = _opacities(panels)

    assert opacity.shape == (3, 2)
    assert opacity[2, 0] == 1.0
    assert opacity[0, 0] == MIN_OPACITY
    # Column 1 has scores 2, 0.5, 3 from the top.
    assert opacity[1, 1] < opacity[0, 1] < opacity[2, 1]


def test_node_labels_names_and_classes(small_model, small_qmodel):
    model, _ = small_model
    model.classes = np.array([0.0, 1.0])
    try:
        labels = node_labels(model, small_qmodel, ["speed", "load"])
    finally:
        model.classes = None
    assert labels == [["speed", "load"], ["node 0", "node 1", "node 2"], ["logit 0", "logit 1"]]

    default = node_labels(model, small_qmodel)
    assert default[0] == ["x0", "x1"]
    with pytest.raises(KancError, match="input_names has 1 entries"):
        node_labels(model, small_qmodel, ["only"])


@pytest.mark.parametrize("value, text", [(0.0, "0"), (0.25, "0.25"), (-1.5, "-1.5"), (1250.0, "1250"),
                                         (2e5, "2e+05"), (5e-4, "5e-04")])
def test_format_tick(value, text):
    assert format_tick(value) == text


# ---------------------------------------------------------------------------- PNG output

def test_plot_writes_png(small_model, tmp_path):
    pytest.importorskip("matplotlib")
    from kanc.plot.edges import plot_edges

    model, x = small_model
    path = tmp_path / "edges.png"
    plot_edges(model, path, x=x)

    signature, image_format, (width, height), gray = read_png(path)
    assert signature == PNG_SIGNATURE
    assert image_format == "PNG"
    assert width >= 600
    assert height >= 600
    assert gray.std() > 10, "the image is blank"
    assert sorted(os.listdir(tmp_path)) == ["edges.png"]


def test_png_grows_with_model(small_model, small_qmodel, tmp_path):
    pytest.importorskip("matplotlib")
    from kanc.plot.edges import plot_edges

    model, x = small_model
    wide = FloatKAN.create([9, 4, 2], rng=np.random.default_rng(3))
    wide_x = np.random.default_rng(4).normal(size=(50, 9))
    plot_edges(model, tmp_path / "small.png", qmodel=small_qmodel)
    plot_edges(wide, tmp_path / "wide.png", x=wide_x)

    _, _, (small_width, small_height), _ = read_png(tmp_path / "small.png")
    _, _, (wide_width, wide_height), _ = read_png(tmp_path / "wide.png")
    assert wide_width > small_width
    assert wide_height > small_height


def test_failed_save_leaves_no_file(small_model, small_qmodel, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    from kanc.plot.edges import plot_edges

    def broken_savefig(self, fname, **kwargs):
        with open(fname, "wb") as handle:
            handle.write(PNG_SIGNATURE + b"partial")
        raise OSError("disk full")

    model, _ = small_model
    existing = tmp_path / "kept.png"
    existing.write_bytes(b"previous plot")
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken_savefig)

    with pytest.raises(OSError, match="disk full"):
        plot_edges(model, tmp_path / "new.png", qmodel=small_qmodel)
    with pytest.raises(OSError, match="disk full"):
        plot_edges(model, existing, qmodel=small_qmodel)

    assert sorted(os.listdir(tmp_path)) == ["kept.png"]
    assert existing.read_bytes() == b"previous plot"


def test_bad_data_writes_nothing(small_model, tmp_path):
    pytest.importorskip("matplotlib")
    from kanc.plot.edges import plot_edges

    model, x = small_model
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="row 3, feature 1 is nan"):
        plot_edges(model, tmp_path / "edges.png", x=bad)
    assert os.listdir(tmp_path) == []


def test_missing_tables_and_data_rejected(small_model, tmp_path):
    from kanc.plot.edges import plot_edges

    model, _ = small_model
    with pytest.raises(KancError, match="pass one of them"):
        plot_edges(model, tmp_path / "edges.png")
    assert os.listdir(tmp_path) == []


def test_mismatched_qmodel_rejected(small_model, tmp_path):
    pytest.importorskip("matplotlib")
    from kanc.plot.edges import plot_edges

    model, x = small_model
    other = FloatKAN.create([2, 4, 2], rng=np.random.default_rng(0))
    other_q = quantize(other, x, segments=4)
    with pytest.raises(KancError, match=r"widths \[2, 4, 2\] but the float model has \[2, 3, 2\]"):
        plot_edges(model, tmp_path / "edges.png", qmodel=other_q)
    assert os.listdir(tmp_path) == []


def test_too_many_edges_rejected(small_model, tmp_path):
    from kanc.plot.edges import plot_edges

    model, x = small_model
    with pytest.raises(KancError, match="12 edges, more than max_edges=10"):
        plot_edges(model, tmp_path / "edges.png", x=x, max_edges=10)


def test_missing_matplotlib_names_install_command(small_model, tmp_path, monkeypatch):
    from kanc.plot.edges import plot_edges

    # A None entry in sys.modules makes the import raise ImportError.
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    model, x = small_model
    with pytest.raises(KancError, match=r'pip install "kanc\[plot\]"'):
        plot_edges(model, tmp_path / "edges.png", x=x)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------- real model and CLI

def test_wine_model_plot_and_cli(tmp_path):
    pytest.importorskip("matplotlib")
    from kanc.cli import main
    from kanc.datasets import dataset_path, load_dataset
    from kanc.model.serialize import save_float_model
    from kanc.train.estimators import KANClassifier

    data = load_dataset("wine")
    classifier = KANClassifier(hidden=(6,), epochs=40, seed=0).fit(data.X, data.y)
    model_path = tmp_path / "wine.npz"
    save_float_model(classifier.model_, model_path)
    out = tmp_path / "wine_edges.png"

    status = main(["plot", str(model_path), "-o", str(out), "--data", dataset_path("wine")])

    assert status == 0
    signature, _, (width, height), gray = read_png(out)
    assert signature == PNG_SIGNATURE
    # 13 input columns and 6 + 3 node rows: a wide, tall figure.
    assert width > 1500
    assert height > 1000
    assert gray.std() > 10
