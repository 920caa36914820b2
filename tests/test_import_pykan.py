"""The pykan importer against pykan 0.2.x itself, on models trained briefly on scikit-learn data.

pykan writes checkpoints, history and figures into its working directory, so every
test that builds a model runs in ``tmp_path``. Outputs are compared with pykan's
forward pass in float64 on the same parameters (a float32 model is converted with
``.double()`` after the import has read its float32 state).
"""
import os

import numpy as np
import pytest

from kanc.importers import ModelImportError, import_pykan
from kanc.importers.pykan_checkpoint import read_pykan_config
from kanc.model.protocol import check_float_model
from toolchain_checks import require_module

torch = require_module("torch")
kan = require_module("kan")
yaml = require_module("yaml")


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    np.random.seed(0)


def minmax(x):
    return (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))


def diabetes_dataset(n_features):
    """Diabetes regression data, first ``n_features`` features scaled to [0, 1], target standardised."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = minmax(data.data[:, :n_features])
    y = ((data.target - data.target.mean()) / data.target.std())[:, None]
    return split(x, y)


def iris_dataset():
    from sklearn.datasets import load_iris

    data = load_iris()
    order = np.random.default_rng(1).permutation(len(data.target))
    x = minmax(data.data)[order] * 2.0 - 1.0
    return split(x, data.target[order])


def split(x, y, train=300):
    train = min(train, int(0.7 * len(x)))
    as_float = dict(dtype=torch.float32)
    label = (lambda v: torch.tensor(v, dtype=torch.long)) if y.ndim == 1 else (lambda v: torch.tensor(v, **as_float))
    return {
        "train_input": torch.tensor(x[:train], **as_float), "train_label": label(y[:train]),
        "test_input": torch.tensor(x[train:], **as_float), "test_label": label(y[train:]),
    }


def pykan_float64_output(model, x):
    """pykan's own forward pass in float64 on the model's parameters, which are converted and then restored.

    float32 -> float64 -> float32 is exact, so the model is unchanged afterwards.
    """
    dtype = model.act_fun[0].coef.dtype
    model.double()
    try:
        with torch.no_grad():
            return model(torch.tensor(x, dtype=torch.float64)).numpy()
    finally:
        # MultKAN.to() takes a device only, so restore the dtype with float().
        if dtype == torch.float32:
            model.float()


def assert_matches_pykan(imported, model, x):
    expected = pykan_float64_output(model, x)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(imported.layer_inputs(x)[-1], expected, rtol=1e-12, atol=1e-13 * scale)


def beyond_range_rows(n_features):
    """Inputs outside [0, 1] and beyond the extended grid, where only the base term of an edge is left."""
    return np.array([np.full(n_features, value) for value in (-3.0, -0.4, 1.3, 4.0)])


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """A user's checkpoint: [7, 5, 1], grid 5, k 3, grid_eps 0.02, symbolic edges, update_grid, float32.

    Built once per module. Tests must not change the model; pykan_float64_output
    restores its dtype.
    """
    folder = tmp_path_factory.mktemp("pykan_user")
    previous = os.getcwd()
    os.chdir(folder)
    try:
        torch.manual_seed(0)
        dataset = diabetes_dataset(7)
        model = kan.KAN(width=[7, 5, 1], grid=5, k=3, grid_eps=0.02, seed=0)
        model.fit(dataset, opt="Adam", lr=0.01, steps=15)
        model.update_grid(dataset["train_input"])

        model(dataset["train_input"])
        model.fix_symbolic(0, 2, 1, "sin")
        model.fix_symbolic(0, 4, 3, "x^2")
        model.fix_symbolic(1, 0, 0, "tanh")
        model.fit(dataset, opt="Adam", lr=0.01, steps=5, update_grid=False)

        path = str(folder / "diabetes_kan")
        model.saveckpt(path)
        latest = str(folder / "model" / f"{model.round}.{model.state_id}")
    finally:
        os.chdir(previous)
    return model, path, latest, dataset


def test_checkpoint_matches_pykan(trained_checkpoint):
    model, path, _, dataset = trained_checkpoint
    state = torch.load(path + "_state", weights_only=True)
    assert state["act_fun.0.grid"].dtype == torch.float32
    # update_grid moved the knots to data quantiles: the grid is not uniform any more.
    spacing = np.diff(state["act_fun.0.grid"].numpy()[:, 3:-3], axis=1)
    assert np.ptp(spacing) > 1e-3
    assert state["symbolic_fun.0.mask"][1, 2] == 1.0

    imported = check_float_model(import_pykan(path))
    x = np.vstack([dataset["test_input"].numpy().astype(np.float64), beyond_range_rows(7)])

    assert imported.widths == [7, 5, 1]
    assert_matches_pykan(imported, model, x)


def test_checkpoint_matches_pykan_loadckpt(trained_checkpoint):
    _, path, _, dataset = trained_checkpoint
    reloaded = kan.KAN.loadckpt(path)
    imported = import_pykan(path + "_config.yml")
    assert_matches_pykan(imported, reloaded, dataset["test_input"].numpy().astype(np.float64))


def test_autosaved_checkpoint_matches(trained_checkpoint):
    model, _, latest, dataset = trained_checkpoint
    # fit and fix_symbolic save a checkpoint after each step under ./model/<round>.<state_id>.
    assert os.path.isfile(latest + "_state")
    imported = import_pykan(latest)
    assert_matches_pykan(imported, model, dataset["test_input"].numpy().astype(np.float64))


def test_live_model_matches_pykan(trained_checkpoint):
    model, _, _, dataset = trained_checkpoint
    imported = import_pykan(model)
    x = np.vstack([dataset["test_input"].numpy().astype(np.float64), beyond_range_rows(7)])
    assert_matches_pykan(imported, model, x)


def test_protocol_contract(trained_checkpoint):
    _, path, _, dataset = trained_checkpoint
    imported = import_pykan(path)
    x = dataset["test_input"].numpy().astype(np.float64)
    values = imported.layer_inputs(x)
    for layer in range(2):
        edges = imported.edge_values(layer, values[layer])
        assert edges.shape == (len(x), imported.widths[layer + 1], imported.widths[layer])
        np.testing.assert_array_equal(values[layer + 1], edges.sum(axis=2) + imported.node_bias(layer))


def test_symbolic_branch_used(trained_checkpoint):
    model, _, _, dataset = trained_checkpoint
    x = dataset["test_input"].numpy().astype(np.float64)
    with_symbolic = import_pykan(model).layer_inputs(x)[-1]

    model.symbolic_enabled = False
    try:
        without = import_pykan(model)
        assert_matches_pykan(without, model, x)
    finally:
        model.symbolic_enabled = True
    assert np.max(np.abs(without.layer_inputs(x)[-1] - with_symbolic)) > 1e-4


def test_spline_outside_extended_grid_is_base_only(trained_checkpoint):
    model, path, _, _ = trained_checkpoint
    imported = import_pykan(path)
    layer = model.act_fun[0]
    knots = layer.grid.detach().numpy().astype(np.float64)
    scale_base = layer.scale_base.detach().numpy().astype(np.float64)
    mask = layer.mask.detach().numpy().astype(np.float64)

    t = np.full((1, 7), knots.max() + 1.0)
    silu = t[0] / (1.0 + np.exp(-t[0]))
    expected = (mask * scale_base * silu[:, None]).T
    # Symbolic edges are not splines: leave them out of the comparison.
    symbolic = model.symbolic_fun[0].mask.detach().numpy() != 0
    edges = imported.edge_values(0, t)[0]
    np.testing.assert_allclose(edges[~symbolic], expected[~symbolic], rtol=1e-14, atol=0)


def test_derivative_of_symbolic_edge(trained_checkpoint):
    model, path, _, _ = trained_checkpoint
    imported = import_pykan(path)
    a, b, c, d = model.symbolic_fun[0].affine[1, 2].detach().numpy().astype(np.float64)
    t = np.tile(np.linspace(0.05, 0.95, 9)[:, None], (1, 7))

    # Edge (input 2 -> node 1) is c * sin(a t + b) + d with its spline masked out.
    first = imported.edge_derivative_values(0, t, 1)[:, 1, 2]
    second = imported.edge_derivative_values(0, t, 2)[:, 1, 2]
    np.testing.assert_allclose(first, c * a * np.cos(a * t[:, 2] + b), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(second, -c * a * a * np.sin(a * t[:, 2] + b), rtol=1e-4, atol=1e-6)


def test_classification_iris():
    dataset = iris_dataset()
    model = kan.KAN(width=[4, 5, 3], grid=4, k=3, seed=1)
    model.fit(dataset, opt="Adam", lr=0.02, steps=10, loss_fn=torch.nn.CrossEntropyLoss())
    imported = import_pykan(model, task="classification")
    assert imported.task == "classification"
    assert_matches_pykan(imported, model, dataset["test_input"].numpy().astype(np.float64))


@pytest.mark.parametrize("base_fun", ["identity", "zero"])
def test_other_base_functions(base_fun):
    dataset = diabetes_dataset(3)
    model = kan.KAN(width=[3, 4, 2], grid=[4, 6], k=[2, 3], base_fun=base_fun, seed=2, auto_save=False)
    model.update_grid(dataset["train_input"])
    imported = import_pykan(model)
    assert [layer.degree for layer in imported.layers] == [2, 3]
    assert_matches_pykan(imported, model, np.vstack([dataset["test_input"].numpy(), beyond_range_rows(3)]))


def test_mask_and_node_affine():
    dataset = diabetes_dataset(3)
    model = kan.KAN(width=[3, 4, 1], grid=5, k=3, seed=3, auto_save=False)
    model.update_grid(dataset["train_input"])
    model.remove_edge(0, 1, 2, log_history=False)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for params in (model.node_scale, model.node_bias, model.subnode_scale, model.subnode_bias):
            for p in params:
                p.copy_(torch.tensor(rng.uniform(-2, 2, p.shape), dtype=p.dtype))
        model.act_fun[0].scale_sp[2, 1] = 0.0

    imported = import_pykan(model)
    x = dataset["test_input"].numpy().astype(np.float64)
    edges = imported.edge_values(0, x)
    np.testing.assert_array_equal(edges[:, 2, 1], 0.0)
    assert_matches_pykan(imported, model, x)


def test_float64_checkpoint(tmp_path):
    dataset = diabetes_dataset(4)
    model = kan.KAN(width=[4, 3, 1], grid=5, k=3, seed=4, auto_save=False)
    model.update_grid(dataset["train_input"])
    model.double()
    path = str(tmp_path / "kan64")
    model.saveckpt(path)
    assert torch.load(path + "_state", weights_only=True)["act_fun.0.coef"].dtype == torch.float64

    assert_matches_pykan(import_pykan(path), model, dataset["test_input"].numpy().astype(np.float64))


def test_prune_input_live_and_checkpoint(tmp_path):
    dataset = diabetes_dataset(5)
    model = kan.KAN(width=[5, 3, 1], grid=5, k=3, seed=5)
    model.update_grid(dataset["train_input"])
    pruned = model.prune_input(active_inputs=[0, 3, 4])
    path = str(tmp_path / "pruned")
    pruned.saveckpt(path)
    x = dataset["test_input"].numpy().astype(np.float64)

    live = import_pykan(pruned)
    assert live.widths == [5, 3, 1]
    np.testing.assert_array_equal(live.edge_values(0, x)[:, :, [1, 2]], 0.0)

    # The checkpoint does not store input_id (and pykan 0.2.8 writes base_fun as a pickled SiLU there).
    assert "python/object:torch.nn.modules.activation.SiLU" in open(path + "_config.yml").read()
    from_file = import_pykan(path, input_id=[0, 3, 4], n_features=5)
    assert from_file.widths == [5, 3, 1]
    narrow = import_pykan(path)
    assert narrow.widths == [3, 3, 1]

    expected = pykan_float64_output(pruned, x)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(live.layer_inputs(x)[-1], expected, rtol=1e-12, atol=1e-13 * scale)
    np.testing.assert_allclose(from_file.layer_inputs(x)[-1], expected, rtol=1e-12, atol=1e-13 * scale)
    np.testing.assert_allclose(narrow.layer_inputs(x[:, [0, 3, 4]])[-1], expected, rtol=1e-12, atol=1e-13 * scale)


def test_input_id_checked(tmp_path):
    model = kan.KAN(width=[3, 2, 1], grid=3, k=3, seed=6, auto_save=False)
    with pytest.raises(ModelImportError, match="input_id has 2 entries but the pykan model takes 3 inputs"):
        import_pykan(model, input_id=[0, 1])
    with pytest.raises(ModelImportError, match="refers to feature 4 but n_features is 3"):
        import_pykan(model, input_id=[0, 1, 4], n_features=3)


def test_multiplication_nodes_rejected():
    model = kan.KAN(width=[2, [2, 1], 1], grid=3, k=3, seed=7, auto_save=False)
    with pytest.raises(ModelImportError, match=r"multiplication nodes \(layer 1: 1 multiplication node"):
        import_pykan(model)


def test_symbolic_domain_error_and_finite_domain():
    model = kan.KAN(width=[2, 2, 1], grid=3, k=3, seed=8, auto_save=False)
    model.fix_symbolic(0, 0, 1, "log", fit_params_bool=False, log_history=False)
    with torch.no_grad():
        model.symbolic_fun[0].affine[1, 0] = torch.tensor([2.0, 1.0, 1.0, 0.0])
    imported = import_pykan(model)

    lo, hi = imported.finite_domain(0)
    assert lo[0] == -0.5
    assert hi[0] == np.inf
    assert lo[1] == -np.inf
    assert hi[1] == np.inf

    inside = np.array([[-0.4, 0.3], [0.7, -0.9]])
    assert_matches_pykan(imported, model, inside)
    with pytest.raises(ModelImportError, match=r"layer 0 edge \(input 0 -> node 1\): symbolic function 'log'.*-0.6"):
        imported.layer_inputs(np.array([[-0.6, 0.0]]))


def test_every_symbolic_function_matches_torch():
    from kan.utils import SYMBOLIC_LIB

    from kanc.importers.pykan_symbolic import SYMBOLIC_FUNCTIONS

    assert set(SYMBOLIC_FUNCTIONS) == set(SYMBOLIC_LIB)
    u = np.concatenate([np.linspace(-3.0, 3.0, 61), [0.0, 1.0, -1.0]])
    for name, (torch_function, *_) in SYMBOLIC_LIB.items():
        expected = torch_function(torch.tensor(u, dtype=torch.float64)).numpy()
        with np.errstate(all="ignore"):
            actual = SYMBOLIC_FUNCTIONS[name](u)
        np.testing.assert_allclose(actual, expected, rtol=1e-14, atol=1e-15, equal_nan=True, err_msg=name)


def test_unknown_symbolic_name_rejected(tmp_path):
    model = kan.KAN(width=[2, 1], grid=3, k=3, seed=9, auto_save=False)
    model.fix_symbolic(0, 1, 0, "sin", fit_params_bool=False, log_history=False)
    model.symbolic_fun[0].funs_name[0][1] = "anonymous"
    with pytest.raises(ModelImportError, match="symbolic function 'anonymous'"):
        import_pykan(model)


def test_config_numpy_scalars_rebuilt(tmp_path):
    path = tmp_path / "numbers_config.yml"
    path.write_text(yaml.dump({
        "grid_eps": np.float64(0.02), "k": np.int64(3), "scale": np.float32(1.5), "flag": np.bool_(True),
        "width": [[np.int64(4), 0], [2, np.int32(0)]],
    }))
    config = read_pykan_config(str(path))
    assert config["grid_eps"] == 0.02
    assert type(config["grid_eps"]) is float
    assert config["k"] == 3
    assert type(config["k"]) is int
    assert config["scale"] == 1.5
    assert config["flag"] is True
    assert config["width"] == [[4, 0], [2, 0]]


def test_config_with_code_rejected(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil_config.yml"
    path.write_text(f"width: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ModelImportError, match="cannot be read safely"):
        read_pykan_config(str(path))
    assert not marker.exists()


def test_config_numpy_array_rejected(tmp_path):
    path = tmp_path / "array_config.yml"
    path.write_text(yaml.dump({"grid_range": np.array([-1.0, 1.0])}))
    with pytest.raises(ModelImportError, match="cannot be read safely"):
        read_pykan_config(str(path))


def test_missing_checkpoint_named(tmp_path):
    with pytest.raises(ModelImportError, match="pykan config not found: .*nothing_config.yml"):
        import_pykan(str(tmp_path / "nothing"))


def test_not_a_pykan_model():
    with pytest.raises(ModelImportError, match="Linear is not a pykan KAN/MultKAN model"):
        import_pykan(torch.nn.Linear(2, 2))
