"""Importers for efficient-kan, FastKAN and ChebyKAN against outputs of the real libraries.

The fixtures in tests/fixtures/ hold each library's state dict, inputs and the
library's own float64 outputs (see tests/fixtures/FIXTURES.md). These tests need
numpy only, except the ones that read torch files.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from kanc.importers import ModelImportError, import_chebykan, import_efficient_kan, import_fastkan
from kanc.importers.common import load_state_arrays
from kanc.model.protocol import check_float_model
from toolchain_checks import require_module

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = [
    ("efficient_kan_diabetes", import_efficient_kan, {}),
    ("efficient_kan_iris_relu", import_efficient_kan, {"base_activation_name": "relu", "task": "classification"}),
    ("fastkan_diabetes", import_fastkan, {}),
    ("chebykan_iris", import_chebykan, {"task": "classification"}),
]


def load_fixture(name):
    with np.load(os.path.join(FIXTURES, name + ".npz"), allow_pickle=False) as archive:
        state = {key[len("sd."):]: archive[key] for key in archive.files if key.startswith("sd.")}
        return state, archive["x"], archive["y_float64"], archive["y_float32"]


def assert_close_to_roundoff(actual, expected):
    """Agreement within float64 round-off of a few hundred operations, relative to the output scale."""
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-13 * scale)


@pytest.mark.parametrize("name, importer, options", CASES, ids=[case[0] for case in CASES])
def test_fixture_matches_library(name, importer, options):
    state, x, y_float64, _ = load_fixture(name)
    model = importer(state, **options)

    assert model.widths[0] == x.shape[1]
    assert model.widths[-1] == y_float64.shape[1]
    assert_close_to_roundoff(model.layer_inputs(x)[-1], y_float64)


@pytest.mark.parametrize("name, importer, options", CASES, ids=[case[0] for case in CASES])
def test_fixture_float32_state_close_to_float32_run(name, importer, options):
    state, x, _, y_float32 = load_fixture(name)
    model = importer(state, **options)

    # The library ran in float32: its outputs differ from the float64 evaluation by float32 round-off.
    scale = np.max(np.abs(y_float32))
    np.testing.assert_allclose(model.layer_inputs(x)[-1], y_float32, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("name, importer, options", CASES, ids=[case[0] for case in CASES])
def test_fixture_protocol_contract(name, importer, options):
    state, x, _, _ = load_fixture(name)
    model = check_float_model(importer(state, **options))

    values = model.layer_inputs(x)
    assert len(values) == len(model.widths)
    for layer in range(len(model.widths) - 1):
        assert values[layer].shape == (len(x), model.widths[layer])
        edges = model.edge_values(layer, values[layer])
        assert edges.shape == (len(x), model.widths[layer + 1], model.widths[layer])
        np.testing.assert_array_equal(values[layer + 1], edges.sum(axis=2) + model.node_bias(layer))


def test_task_is_stored_and_checked():
    state = load_fixture("chebykan_iris")[0]
    assert import_chebykan(state, task="classification").task == "classification"
    with pytest.raises(ModelImportError, match="invalid task 'logits'"):
        import_chebykan(state, task="logits")


def test_efficient_kan_spline_vanishes_outside_grid():
    state, _, _, _ = load_fixture("efficient_kan_diabetes")
    model = import_efficient_kan(state)
    knots = state["layers.0.grid"].astype(np.float64)
    weight = state["layers.0.base_weight"].astype(np.float64)

    # Beyond the last knot of every input (and at it: the bases are half-open) only the SiLU term remains.
    for t_value in (knots.max() + 0.5, knots.max() + 10.0, knots.min() - 0.5):
        t = np.full((1, knots.shape[0]), t_value)
        silu = t_value / (1.0 + np.exp(-t_value))
        np.testing.assert_allclose(model.edge_values(0, t)[0], weight * silu, rtol=1e-15, atol=0)


def test_efficient_kan_spline_scaler_matters():
    state, x, y_float64, _ = load_fixture("efficient_kan_diabetes")
    without_scaler = {key: value for key, value in state.items() if not key.endswith("spline_scaler")}
    changed = import_efficient_kan(without_scaler).layer_inputs(x)[-1]
    assert np.max(np.abs(changed - y_float64)) > 1e-3


def test_efficient_kan_activation_name_matters():
    state, x, y_float64, _ = load_fixture("efficient_kan_iris_relu")
    wrong = import_efficient_kan(state, base_activation_name="silu").layer_inputs(x)[-1]
    assert np.max(np.abs(wrong - y_float64)) > 1e-3


def test_efficient_kan_rejects_unknown_activation():
    state = load_fixture("efficient_kan_iris_relu")[0]
    with pytest.raises(ModelImportError, match="unsupported efficient-kan base activation 'gelu'"):
        import_efficient_kan(state, base_activation_name="gelu")


def test_efficient_kan_rejects_repeated_knots():
    state = dict(load_fixture("efficient_kan_diabetes")[0])
    grid = state["layers.1.grid"].copy()
    grid[2, 3:8] = grid[2, 5]
    state["layers.1.grid"] = grid
    with pytest.raises(ModelImportError, match="layer 1: grid of input 2 .* grid_eps > 0"):
        import_efficient_kan(state)


def test_efficient_kan_missing_entry_named():
    state = dict(load_fixture("efficient_kan_diabetes")[0])
    del state["layers.1.grid"]
    with pytest.raises(ModelImportError, match="layer 1 has no 'grid' entry"):
        import_efficient_kan(state)


def test_efficient_kan_nan_weight_rejected():
    state = dict(load_fixture("efficient_kan_diabetes")[0])
    state["layers.0.base_weight"] = state["layers.0.base_weight"].copy()
    state["layers.0.base_weight"][1, 2] = np.nan
    with pytest.raises(ModelImportError, match="'layers.0.base_weight' contains NaN"):
        import_efficient_kan(state)


def test_fastkan_rejects_layernorm():
    state = load_fixture("fastkan_layernorm")[0]
    with pytest.raises(ModelImportError, match="'layers.0.layernorm.weight'.*use_layernorm=False"):
        import_fastkan(state)


def test_fastkan_denominator_option():
    state, x, y_float64, _ = load_fixture("fastkan_diabetes")
    centres = [state["0.rbf.grid"].astype(np.float64), state["1.rbf.grid"].astype(np.float64)]
    default_widths = [float((c[-1] - c[0]) / (len(c) - 1)) for c in centres]

    explicit = import_fastkan(state, denominator=default_widths).layer_inputs(x)[-1]
    assert_close_to_roundoff(explicit, y_float64)

    wider = import_fastkan(state, denominator=2.0).layer_inputs(x)[-1]
    assert np.max(np.abs(wider - y_float64)) > 1e-3

    with pytest.raises(ModelImportError, match="denominator has 3 entries but the FastKAN model has 2 layers"):
        import_fastkan(state, denominator=[1.0, 1.0, 1.0])


def test_chebykan_rejects_layernorm_between_layers():
    state = load_fixture("chebykan_layernorm")[0]
    with pytest.raises(ModelImportError, match="entry '1.weight' is not part of a ChebyKAN layer"):
        import_chebykan(state)


def test_chebykan_constant_far_outside():
    state = load_fixture("chebykan_iris")[0]
    model = import_chebykan(state)
    coeffs = state["0.cheby_coeffs"].astype(np.float64)

    # tanh(40) == 1.0 and tanh(-40) == -1.0 in float64, and T_d(1) = 1, T_d(-1) = (-1)^d.
    signs = (-1.0) ** np.arange(coeffs.shape[2])
    far = np.array([[40.0] * 4, [-40.0] * 4])
    edges = model.edge_values(0, far)
    np.testing.assert_allclose(edges[0], coeffs.sum(axis=2).T, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(edges[1], (coeffs * signs).sum(axis=2).T, rtol=1e-14, atol=1e-15)


def test_chebykan_derivative_matches_analytic():
    state = load_fixture("chebykan_iris")[0]
    model = import_chebykan(state)
    coeffs = state["0.cheby_coeffs"].astype(np.float64)
    t = np.linspace(-1.5, 1.5, 4 * 7).reshape(7, 4)

    # d/dt T_d(tanh t) = d * sin(d * theta) / sin(theta) * (1 - tanh(t)^2), theta = arccos(tanh t).
    theta = np.arccos(np.tanh(t))[:, :, None]
    orders = np.arange(coeffs.shape[2])
    dT = orders * np.sin(orders * theta) / np.sin(theta) * (1.0 - np.tanh(t) ** 2)[:, :, None]
    expected = np.einsum("nid,ijd->nji", dT, coeffs)

    first = model.edge_derivative_values(0, t, 1)
    np.testing.assert_allclose(first, expected, rtol=1e-6, atol=1e-8)


def test_derivative_order_checked():
    model = import_chebykan(load_fixture("chebykan_iris")[0])
    with pytest.raises(ValueError, match="invalid derivative order 3"):
        model.edge_derivative_values(0, np.zeros((1, 4)), 3)


def test_second_derivative_of_fastkan_base():
    state = load_fixture("fastkan_diabetes")[0]
    model = import_fastkan(state)
    weight = state["0.base_linear.weight"].astype(np.float64)

    # Far from all Gaussian centres only base_weight * silu(t) is left; silu''(t) = s (1 - s) (2 + t (1 - 2 s)).
    t = np.full((1, 10), 9.0)
    s = 1.0 / (1.0 + np.exp(-9.0))
    silu_second = s * (1 - s) * (2 + 9.0 * (1 - 2 * s))
    # Round-off of the stencil: about 2e-7 * |phi| / t^2, with |phi| <= 9 |w| here.
    np.testing.assert_allclose(model.edge_derivative_values(0, t, 2)[0], weight * silu_second,
                               rtol=0, atol=3e-8 * np.max(np.abs(weight)))


def test_state_from_npz_path(tmp_path):
    state, x, y_float64, _ = load_fixture("chebykan_iris")
    path = tmp_path / "cheby_state.npz"
    np.savez(path, **state)
    assert_close_to_roundoff(import_chebykan(str(path)).layer_inputs(x)[-1], y_float64)


def test_state_file_not_found(tmp_path):
    with pytest.raises(ModelImportError, match="state dict file not found: .*missing.pt"):
        import_fastkan(str(tmp_path / "missing.pt"))


def test_state_from_torch_file(tmp_path):
    torch = require_module("torch")
    state, x, y_float64, _ = load_fixture("efficient_kan_diabetes")
    path = tmp_path / "effkan.pt"
    torch.save({key: torch.from_numpy(value) for key, value in state.items()}, path)

    arrays = load_state_arrays(str(path), "efficient-kan")
    assert list(arrays) == list(state)
    assert arrays["layers.0.grid"].dtype == np.float32
    assert_close_to_roundoff(import_efficient_kan(str(path)).layer_inputs(x)[-1], y_float64)


def test_torch_file_with_code_rejected(tmp_path):
    torch = require_module("torch")
    path = tmp_path / "module.pt"
    # A whole pickled object, not a state dict: weights_only loading must refuse it.
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), path)
    with pytest.raises(ModelImportError, match="weights_only=True"):
        import_chebykan(str(path))


def test_importers_work_without_torch(tmp_path):
    script = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from kanc.importers import import_chebykan, ModelImportError\n"
        "a = np.load(sys.argv[1])\n"
        "state = {k[3:]: a[k] for k in a.files if k.startswith('sd.')}\n"
        "out = import_chebykan(state).layer_inputs(a['x'])[-1]\n"
        "print(float(np.max(np.abs(out - a['y_float64']))))\n"
        "try:\n"
        "    import_chebykan(sys.argv[2])\n"
        "except ModelImportError as exc:\n"
        "    print(exc)\n"
    )
    torch_file = tmp_path / "state.pt"
    torch_file.write_bytes(b"not read")
    result = subprocess.run(
        [sys.executable, "-c", script, os.path.join(FIXTURES, "chebykan_iris.npz"), str(torch_file)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": REPO}, check=False)

    assert result.returncode == 0, result.stderr
    difference, message = result.stdout.strip().splitlines()
    assert float(difference) < 1e-12
    assert 'pip install "kanc[import]"' in message


def test_second_derivative_ignores_relu_kink():
    state = dict(load_fixture("efficient_kan_iris_relu")[0])
    state["0.spline_weight"] = np.zeros_like(state["0.spline_weight"])
    model = import_efficient_kan(state, base_activation_name="relu")

    # phi = w * relu(t): zero second derivative on both sides of the kink at 0, and at the kink itself.
    t = np.array([[0.0, -0.3, 0.3, 1e-7]])
    # Central differences would give w / h, about 1e4 * w, at the kink.
    np.testing.assert_allclose(model.edge_derivative_values(0, t, 2), 0.0, rtol=0, atol=1e-6)
    weight = state["0.base_weight"].astype(np.float64)
    np.testing.assert_allclose(model.edge_derivative_values(0, t, 1)[0, :, 2], weight[:, 2], rtol=1e-9)
