"""The main job on the bundled real data sets: the acceptance numbers of the pipeline."""
import pytest

from kanc.demo import run_demo


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("demo")
    return {r.dataset: r for r in run_demo(datasets=("wine", "diabetes"), out_dir=str(out_dir), verbose=False)}


@pytest.mark.parametrize("dataset", ["wine", "diabetes"])
def test_demo_c_outputs_equal_simulation(demo_results, dataset):
    result = demo_results[dataset]
    assert result.total > 0
    assert result.identical == result.total


def test_demo_classification_accuracy_unchanged(demo_results):
    result = demo_results["wine"]
    assert result.float_metric > 0.85
    assert result.fixed_metric == result.float_metric


def test_demo_regression_rmse_within_one_percent(demo_results):
    result = demo_results["diabetes"]
    assert abs(result.fixed_metric - result.float_metric) <= 0.01 * result.float_metric


@pytest.mark.parametrize("dataset", ["wine", "diabetes"])
def test_demo_error_within_computed_bound(demo_results, dataset):
    result = demo_results[dataset]
    assert result.rows_in_domain > 0
    assert result.max_abs_error_in_domain <= result.error_bound


@pytest.mark.parametrize("dataset", ["wine", "diabetes"])
def test_demo_reports_sizes(demo_results, dataset):
    sizes = demo_results[dataset].sizes
    assert sizes["table_bytes"] > 0
    assert sizes["flash_bytes"] > sizes["table_bytes"]
    assert 0 < sizes["ram_bytes"] < 2048
