"""The CLI end to end on a bundled data set: train, compile, simulate, report, build, verify."""
import os
import subprocess
import sys

import numpy as np
import pytest

from kanc.datasets import dataset_path
from kanc.quantize.qmodel import QuantizedModel
from toolchain_checks import AVR_PACKAGES, require_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_kanc(*args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "kanc", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    data = dataset_path("iris")
    run_kanc("train", data, "--task", "classification", "--epochs", "60", "--quiet", "-o", "iris.npz", cwd=folder)
    run_kanc("compile", "iris.npz", data, "--name", "iris_kan", "-o", "iris.q.npz", "--c-dir", "c", cwd=folder)
    return folder, data


def test_compile_names_inputs_in_header(compiled):
    folder, _ = compiled
    header = (folder / "c" / "iris_kan.h").read_text()
    assert "x_q[0] sepal_length_cm: scale" in header
    assert "x_q[3] petal_width_cm: scale" in header


def test_compile_writes_self_contained_c(compiled):
    folder, data = compiled
    qmodel = QuantizedModel.load(folder / "iris.q.npz")
    x_q = qmodel.quantize_inputs(np.loadtxt(data, delimiter=",", skiprows=1)[:, :4])
    rows = "\n".join("{" + ", ".join(str(int(v)) for v in row) + "}," for row in x_q)
    (folder / "main.c").write_text(f"""
#include <stdio.h>
#include "iris_kan.h"
static const int16_t rows[][4] = {{ {rows} }};
int main(void) {{
    int16_t y[IRIS_KAN_N_OUTPUTS];
    size_t r;
    for (r = 0; r < sizeof rows / sizeof rows[0]; ++r) {{
        iris_kan_predict_q(rows[r], y);
        printf("%d %d %d\\n", y[0], y[1], y[2]);
    }}
    return 0;
}}
""")
    build = subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Wconversion", "-pedantic", "-Werror",
                            "-Ic", "main.c", "c/iris_kan.c", "-o", "iris_main"],
                           cwd=folder, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    printed = subprocess.run([str(folder / "iris_main")], capture_output=True, text=True, check=True).stdout
    from kanc.simulate import simulate

    expected = simulate(qmodel, x_q).outputs
    got = np.array([[int(v) for v in line.split()] for line in printed.splitlines()])
    assert np.array_equal(got, expected)


def test_simulate_prints_accuracy_and_clamps(compiled):
    folder, data = compiled
    out = run_kanc("simulate", "iris.q.npz", data, "-o", "outputs.csv", cwd=folder)
    assert "fixed-point accuracy:" in out
    assert "clamped to the calibrated domain: none" in out
    lines = (folder / "outputs.csv").read_text().splitlines()
    assert lines[0] == "y_q0,y_q1,y_q2,y0,y1,y2"
    assert len(lines) == 151


def test_simulate_counts_out_of_domain_inputs(compiled, tmp_path):
    folder, data = compiled
    far = tmp_path / "far.csv"
    text = open(data).read().splitlines()
    far.write_text("\n".join([text[0], "1e300,3.0,1.4,0.2,0", "-50,3.0,1.4,0.2,0", text[1]]) + "\n")
    out = run_kanc("simulate", "iris.q.npz", str(far), cwd=folder)
    assert "sepal_length_cm: 2" in out


def test_report_measures_error_against_float(compiled):
    folder, data = compiled
    out = run_kanc("report", "iris.q.npz", "--data", data, "--float-model", "iris.npz", cwd=folder)
    assert "tables:" in out and "bytes" in out
    assert "class agreement" in out
    assert "output error bound" in out


def test_output_files_follow_umask(compiled):
    folder, _ = compiled
    mode = os.stat(folder / "iris.q.npz").st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_verify_uno_prints_zero_mismatches(compiled):
    for tool in ("avr-gcc", "simavr"):
        require_tool(tool, AVR_PACKAGES)
    folder, data = compiled
    out = run_kanc("verify", "iris.q.npz", data, "--board", "uno", "--limit", "20", cwd=folder)
    assert "mismatches: 0" in out
    assert "cycles per inference" in out
