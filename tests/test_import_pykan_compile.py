"""A pykan user's checkpoint after update_grid and auto_symbolic: import, compile, simulate, compare with pykan.

The model is built here with pykan itself, as a user would: width [7, 5, 1], grid 5,
k 3, grid_eps 0.02, float32 state, trained briefly on the diabetes data scaled to
[0, 1], then update_grid, auto_symbolic over a library of smooth functions, and
saveckpt. The fixed-point simulation's error against pykan's own output is printed
(run pytest with -s to see it) and must stay within the quantizer's computed bound.
"""
import os

import numpy as np
import pytest

from kanc.emit.c_source import write_c_sources
from kanc.importers import import_pykan
from kanc.quantize.quantizer import quantize
from kanc.quantize.report import in_domain_mask
from kanc.simulate import simulate
from toolchain_checks import require_module

torch = require_module("torch")
kan = require_module("kan")
require_module("yaml")

SYMBOLIC_LIBRARY = ["x", "x^2", "x^3", "sin", "tanh", "exp"]


@pytest.fixture(scope="module")
def auto_symbolic_checkpoint(tmp_path_factory):
    from sklearn.datasets import load_diabetes

    folder = tmp_path_factory.mktemp("pykan_auto_symbolic")
    previous = os.getcwd()
    os.chdir(folder)
    try:
        torch.manual_seed(0)
        data = load_diabetes()
        x = data.data[:, :7]
        x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
        y = ((data.target - data.target.mean()) / data.target.std())[:, None]
        dataset = {
            "train_input": torch.tensor(x[:300], dtype=torch.float32),
            "train_label": torch.tensor(y[:300], dtype=torch.float32),
            "test_input": torch.tensor(x[300:], dtype=torch.float32),
            "test_label": torch.tensor(y[300:], dtype=torch.float32),
        }
        model = kan.KAN(width=[7, 5, 1], grid=5, k=3, grid_eps=0.02, seed=0)
        model.fit(dataset, opt="Adam", lr=0.01, steps=15)
        model.update_grid(dataset["train_input"])
        model(dataset["train_input"])
        model.auto_symbolic(lib=SYMBOLIC_LIBRARY, verbose=0)
        path = str(folder / "user_kan")
        model.saveckpt(path)
    finally:
        os.chdir(previous)
    return model, path, x


def test_auto_symbolic_checkpoint_compiles(auto_symbolic_checkpoint, tmp_path):
    model, path, x = auto_symbolic_checkpoint
    imported = import_pykan(path)
    assert imported.widths == [7, 5, 1]

    qmodel = quantize(imported, x[:300], name="user_kan", segments=64)
    paths = write_c_sources(qmodel, tmp_path / "c", board="host")
    assert any(p.endswith("user_kan.c") for p in map(str, paths))

    x_test = x[300:]
    y_q = simulate(qmodel, qmodel.quantize_inputs(x_test)).outputs
    fixed = qmodel.dequantize_outputs(y_q)[:, 0]
    with torch.no_grad():
        reference = model(torch.tensor(x_test, dtype=torch.float32)).numpy()[:, 0].astype(np.float64)
    error = np.abs(fixed - reference)
    bound = qmodel.metadata["quantizer"]["output_error_bound_max"]
    print(f"fixed-point vs pykan on {len(x_test)} test rows: max |error| {error.max():.3g}, "
          f"RMSE {np.sqrt(np.mean(error ** 2)):.3g}, computed bound {bound:.3g}, "
          f"output range {reference.min():.3g}..{reference.max():.3g}")

    # pykan runs in float32, so allow its own rounding on top of the quantizer's bound.
    float32_slack = 1e-5 * max(1.0, np.abs(reference).max())
    inside = in_domain_mask(qmodel, imported.layer_inputs(x_test))
    assert inside.sum() >= len(x_test) // 2
    assert error[inside].max() <= bound + float32_slack
