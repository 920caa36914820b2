"""Tests of the kanc-float model file: round trips and rejection of malformed files, naming the field."""
import os

import numpy as np
import pytest

from kanc.errors import ModelFileError
from kanc.io.npzfile import read_model_file, write_model_file
from kanc.model.kan import FloatKAN
from kanc.model.serialize import FORMAT, VERSION, load_float_model, save_float_model

LAYER_FIELDS = ("knots", "coef", "w_lin", "w_silu", "bias")


def random_model(task="regression", classes=None, widths=(3, 5, 2), seed=0, base="silu"):
    rng = np.random.default_rng(seed)
    model = FloatKAN.create(list(widths), grid=4, k=3, base=base, task=task, rng=rng)
    for layer in model.layers:
        layer.bias[:] = rng.normal(size=layer.n_out)
        # Non-uniform knots with one repeated interior knot.
        layer.knots[:, 5] = layer.knots[:, 4]
    model.x_mean = rng.normal(size=widths[0])
    model.x_scale = rng.uniform(0.5, 2.0, size=widths[0])
    if task == "regression":
        model.y_mean = rng.normal(size=widths[-1])
        model.y_scale = rng.uniform(0.5, 2.0, size=widths[-1])
    model.classes = classes
    return model


def assert_same_model(a, b):
    assert a.task == b.task
    assert a.base == b.base
    assert a.widths == b.widths
    for name in ("x_mean", "x_scale", "y_mean", "y_scale"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for la, lb in zip(a.layers, b.layers):
        assert la.k == lb.k
        for name in LAYER_FIELDS:
            np.testing.assert_array_equal(getattr(la, name), getattr(lb, name))
    if a.classes is None:
        assert b.classes is None
    else:
        np.testing.assert_array_equal(a.classes, b.classes)
        assert a.classes.dtype == b.classes.dtype


@pytest.mark.parametrize("task, classes", [
    ("regression", None),
    ("classification", np.array([3, 7])),
    ("classification", np.array(["benign", "malignant"])),
    ("classification", None),
])
def test_roundtrip_is_exact(tmp_path, task, classes):
    model = random_model(task, classes)
    path = tmp_path / "model.npz"
    save_float_model(model, path)
    loaded = load_float_model(path)
    assert_same_model(model, loaded)
    x = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_array_equal(model.predict_outputs(x), loaded.predict_outputs(x))


def test_roundtrip_keeps_column_names(tmp_path):
    model = random_model()
    model.feature_names = ["age", "bmi", "bp"]
    model.target_name = "progression"
    save_float_model(model, tmp_path / "m.npz")
    loaded = load_float_model(tmp_path / "m.npz")
    assert loaded.feature_names == ["age", "bmi", "bp"]
    assert loaded.target_name == "progression"


@pytest.mark.parametrize("base", ["linear", "none"])
def test_roundtrip_keeps_base_and_degree(tmp_path, base):
    model = FloatKAN.create([2, 3, 1], grid=6, k=2, base=base, rng=0)
    save_float_model(model, tmp_path / "m.npz")
    loaded = load_float_model(tmp_path / "m.npz")
    assert loaded.base == base
    assert [layer.k for layer in loaded.layers] == [2, 2]


def test_save_leaves_no_temporary_files(tmp_path):
    save_float_model(random_model(), tmp_path / "a.npz")
    save_float_model(random_model(seed=2), tmp_path / "a.npz")
    assert sorted(os.listdir(tmp_path)) == ["a.npz"]
    assert load_float_model(tmp_path / "a.npz").layers[0].bias[0] == random_model(seed=2).layers[0].bias[0]


def test_trained_classifier_roundtrip(tmp_path):
    from kanc.train.estimators import KANClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    classifier = KANClassifier(hidden=(3,), epochs=5).fit(X, y)
    save_float_model(classifier.model_, tmp_path / "clf.npz")
    loaded = load_float_model(tmp_path / "clf.npz")
    np.testing.assert_array_equal(loaded.classes, ["no", "yes"])
    np.testing.assert_array_equal(loaded.predict_outputs(X), classifier.decision_function(X))
    np.testing.assert_array_equal(loaded.predict_classes(X), classifier.predict(X))


def test_save_rejects_diverged_model(tmp_path):
    model = random_model()
    model.layers[1].coef[0, 0, 0] = np.nan
    with pytest.raises(ModelFileError, match="'layer1/coef' contains NaN"):
        save_float_model(model, tmp_path / "bad.npz")
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------------- malformed files

def rewrite(tmp_path, edit, model=None):
    """Save a valid model, apply ``edit(header, arrays)`` to its contents, write it back and return the path."""
    path = tmp_path / "model.npz"
    save_float_model(model if model is not None else random_model(), path)
    header, arrays = read_model_file(path, FORMAT, {VERSION})
    edit(header, arrays)
    write_model_file(path, header, arrays)
    return path


def set_value(name, index, value):
    def edit(header, arrays):
        arrays[name] = arrays[name].copy()
        arrays[name][index] = value
    return edit


def set_header(field, value):
    def edit(header, arrays):
        header[field] = value
    return edit


def replace_array(name, value):
    def edit(header, arrays):
        arrays[name] = value
    return edit


def drop_array(name):
    def edit(header, arrays):
        del arrays[name]
    return edit


def narrow_layer1(header, arrays):
    """Drop input 4 from every array of layer 1, so the layer is valid alone but no longer fits layer 0."""
    for name in LAYER_FIELDS + ("edge_mask",):
        key = f"layer1/{name}"
        if name == "knots":
            arrays[key] = arrays[key][:4]
        elif name != "bias":
            arrays[key] = arrays[key][:, :4]


MALFORMED = {
    "nan_coef": (set_value("layer0/coef", (1, 2, 3), np.nan), "'layer0/coef' contains NaN"),
    "inf_bias": (set_value("layer1/bias", 0, np.inf), "'layer1/bias' contains NaN"),
    "decreasing_knots": (set_value("layer1/knots", (2, 6), -50.0), "'layer1/knots' row 2 decreases"),
    "flat_knots": (replace_array("layer0/knots", np.zeros((3, 11))), "'layer0/knots' row 0 spans no interval"),
    "knots_width": (replace_array("layer0/knots", np.linspace(0, 1, 30).reshape(3, 10)), "'layer0/knots' has shape"),
    "w_lin_shape": (replace_array("layer0/w_lin", np.zeros((5, 4))), "'layer0/w_lin' has shape"),
    "coef_dtype": (replace_array("layer0/coef", np.zeros((5, 3, 7), dtype=np.int32)), "'layer0/coef' has dtype int32"),
    "coef_rank": (replace_array("layer0/coef", np.zeros((5, 21))), "'layer0/coef' has 2 dimensions"),
    "missing_w_silu": (drop_array("layer1/w_silu"), "missing array 'layer1/w_silu'"),
    "layer_chain": (narrow_layer1, "layer 1 has 4 inputs but layer 0 has 5 outputs"),
    "negative_x_scale": (set_value("x_scale", 1, -2.0), "'x_scale'\\[1\\] = -2.0 must be positive"),
    "zero_y_scale": (set_value("y_scale", 0, 0.0), "'y_scale'\\[0\\] = 0.0 must be positive"),
    "x_mean_length": (replace_array("x_mean", np.zeros(4)), "'x_mean' has shape"),
    "bad_task": (set_header("task", "ranking"), "task='ranking'"),
    "bad_base": (set_header("base", "relu"), "base='relu'"),
    "bad_layers": (set_header("n_layers", 0), "n_layers=0"),
    "bad_degree": (set_header("spline_degree", [3]), "spline_degree=\\[3\\]"),
    "degree_mismatch": (set_header("spline_degree", [2, 3]), "'layer0/knots' has shape"),
    "feature_names_length": (set_header("feature_names", ["a", "b"]), "feature_names=\\['a', 'b'\\]"),
    "target_name_type": (set_header("target_name", 5), "target_name=5"),
    "regression_with_classes": (replace_array("classes", np.array([1, 2])), "must not store class labels"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_names_the_field(tmp_path, case):
    edit, message = MALFORMED[case]
    path = rewrite(tmp_path, edit)
    with pytest.raises(ModelFileError, match=message):
        load_float_model(path)


@pytest.mark.parametrize("edit, message", [
    (replace_array("classes", np.array([1, 2, 3])), "'classes' has shape"),
    (replace_array("classes", np.array(["a", "a"])), "repeated labels"),
    (replace_array("classes", np.array([0.5, np.nan])), "'classes' contains NaN"),
    (drop_array("classes"), "missing array 'classes'"),
    (replace_array("y_scale", np.array([2.0, 1.0])), "y_mean must be 0 and y_scale 1"),
])
def test_malformed_classifier_file(tmp_path, edit, message):
    model = random_model("classification", np.array([0, 1]))
    path = rewrite(tmp_path, edit, model)
    with pytest.raises(ModelFileError, match=message):
        load_float_model(path)


def test_wrong_format_and_version(tmp_path):
    path = tmp_path / "model.npz"
    save_float_model(random_model(), path)
    header, arrays = read_model_file(path, FORMAT, {VERSION})

    write_model_file(path, dict(header, format="kanc-quant"), arrays)
    with pytest.raises(ModelFileError, match="format 'kanc-quant', expected 'kanc-float'"):
        load_float_model(path)

    write_model_file(path, dict(header, version=2), arrays)
    with pytest.raises(ModelFileError, match="version 2"):
        load_float_model(path)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_float_model(tmp_path / "absent.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(ModelFileError, match="not a readable kanc model"):
        load_float_model(garbage)
