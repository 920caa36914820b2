"""Bad input to the CLI: one-line error naming the problem, non-zero exit, no output file left."""
import os
import subprocess
import sys

import numpy as np
import pytest

from kanc.quantize.random_model import random_quantized_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_kanc(*args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "kanc", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def good_csv(tmp_path):
    path = tmp_path / "good.csv"
    rng = np.random.default_rng(0)
    rows = ["a,b,y"] + [f"{x:.3f},{z:.3f},{x + z:.3f}" for x, z in rng.normal(size=(40, 2))]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def quantized_file(tmp_path):
    path = tmp_path / "q.npz"
    random_quantized_model(np.random.default_rng(1), [2, 3, 1]).save(path)
    return path


@pytest.mark.parametrize("content, fragments", [
    ("a,b,y\n1,2\n", ["line 2", "2 cells"]),
    ("a,b,y\n1,x,3\n", ["line 2", "'b'", "'x' is not a number"]),
    ("a,b,y\n1,nan,3\n", ["line 2", "'b'", "NaN"]),
    ("a,b,z\n1,2,3\n", ["no target column 'y'"]),
    ("", ["is empty"]),
])
def test_train_rejects_bad_csv(tmp_path, content, fragments):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    out = tmp_path / "model.npz"
    proc = run_kanc("train", str(data), "--target", "y", "--task", "regression", "-o", str(out), cwd=tmp_path)
    assert_one_line_error(proc, *fragments)
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


@pytest.mark.parametrize("content, fragment", [
    (b"not a zip archive", "not a readable kanc model"),
    (b"", "not a readable kanc model"),
])
def test_simulate_rejects_malformed_model(tmp_path, good_csv, content, fragment):
    model = tmp_path / "broken.npz"
    model.write_bytes(content)
    out = tmp_path / "outputs.csv"
    proc = run_kanc("simulate", str(model), str(good_csv), "-o", str(out), cwd=tmp_path)
    assert_one_line_error(proc, fragment, str(model))
    assert not out.exists()


def test_simulate_rejects_model_breaking_invariant(tmp_path, good_csv, quantized_file):
    with np.load(quantized_file) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["layer0/segments"] = arrays["layer0/segments"].copy()
    arrays["layer0/segments"][0] = 300
    broken = tmp_path / "broken.npz"
    np.savez(broken, **arrays)
    proc = run_kanc("simulate", str(broken), str(good_csv), cwd=tmp_path)
    assert_one_line_error(proc, "300 segments", "1..256")


def test_simulate_rejects_other_format(tmp_path, good_csv):
    from kanc.io.npzfile import write_model_file

    other = tmp_path / "other.npz"
    write_model_file(other, {"format": "kanc-float", "version": 1}, {"x": np.zeros(2)})
    proc = run_kanc("simulate", str(other), str(good_csv), cwd=tmp_path)
    assert_one_line_error(proc, "format 'kanc-float'", "expected 'kanc-quant'")


def test_simulate_rejects_missing_model(tmp_path, good_csv):
    proc = run_kanc("simulate", str(tmp_path / "absent.npz"), str(good_csv), cwd=tmp_path)
    assert_one_line_error(proc, "not found", "absent.npz")


def test_simulate_rejects_csv_with_wrong_columns(tmp_path, quantized_file):
    data = tmp_path / "three.csv"
    data.write_text("a,b,c,d\n1,2,3,4\n")
    proc = run_kanc("simulate", str(quantized_file), str(data), "--target", "d", cwd=tmp_path)
    assert_one_line_error(proc, "3 feature columns", "2 inputs")


def test_usage_error_exits_2(tmp_path):
    proc = run_kanc("train", cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_train_rejects_header_of_numbers(tmp_path):
    data = tmp_path / "noheader.csv"
    data.write_text("1,2,3\n4,5,6\n")
    proc = run_kanc("train", str(data), "--task", "regression", "-o", str(tmp_path / "m.npz"), cwd=tmp_path)
    assert_one_line_error(proc, "contains only numbers", "header row")


def test_train_rejects_duplicate_columns(tmp_path):
    data = tmp_path / "dup.csv"
    data.write_text("a,a,y\n1,2,3\n4,5,6\n")
    proc = run_kanc("train", str(data), "--task", "regression", "-o", str(tmp_path / "m.npz"), cwd=tmp_path)
    assert_one_line_error(proc, "['a']", "more than once")


def test_train_rejects_output_directory(tmp_path, good_csv):
    proc = run_kanc("train", str(good_csv), "--task", "regression", "-o", str(tmp_path), cwd=tmp_path)
    assert_one_line_error(proc, "is a directory")


def test_train_rejects_output_equal_to_input(tmp_path, good_csv):
    before = good_csv.read_bytes()
    proc = run_kanc("train", str(good_csv), "--task", "regression", "-o", str(good_csv), cwd=tmp_path)
    assert_one_line_error(proc, "also an input")
    assert good_csv.read_bytes() == before


def test_train_reports_unwritable_output(tmp_path, good_csv):
    proc = run_kanc("train", str(good_csv), "--task", "regression", "--epochs", "1", "-o", "/proc/kanc-model.npz",
                    cwd=tmp_path)
    assert_one_line_error(proc, "/proc")


def test_simulate_rejects_unknown_target(tmp_path, good_csv, quantized_file):
    proc = run_kanc("simulate", str(quantized_file), str(good_csv), "--target", "nope", cwd=tmp_path)
    assert_one_line_error(proc, "'nope'", "--target")


def test_verify_rejects_unknown_board(tmp_path, good_csv, quantized_file):
    proc = run_kanc("verify", str(quantized_file), str(good_csv), "--board", "esp32", cwd=tmp_path)
    assert_one_line_error(proc, "'esp32'", "uno")


def test_compile_protects_pykan_checkpoint_files(tmp_path, good_csv):
    for suffix in ("_state", "_config.yml", "_cache_data"):
        (tmp_path / f"user_kan{suffix}").write_text("checkpoint part")
    for suffix in ("_state", "_config.yml", "_cache_data"):
        target = tmp_path / f"user_kan{suffix}"
        proc = run_kanc("compile", f"pykan:{tmp_path / 'user_kan'}", str(good_csv), "-o", str(target), cwd=tmp_path)
        assert_one_line_error(proc, "also an input")
        assert target.read_text() == "checkpoint part"


def test_simulate_rejects_continuous_target_for_classifier(tmp_path, good_csv, quantized_file):
    from kanc.quantize.qmodel import QuantizedModel

    model = QuantizedModel.load(quantized_file)
    model.task = "classification"
    model.metadata["feature_names"] = ["a", "b"]
    classifier = tmp_path / "classifier.npz"
    model.save(classifier)
    proc = run_kanc("simulate", str(classifier), str(good_csv), cwd=tmp_path)
    assert_one_line_error(proc, "not a whole-number class label")
