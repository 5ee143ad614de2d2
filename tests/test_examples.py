"""Smoke tests: every script in examples/ runs with its fast settings, once each."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import load_script

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FLOAT = r"-?\d+\.\d+"


def run_example(name, cwd, *args):
    environment = {**os.environ, "SKEBM_EXAMPLE_FAST": "1", "OMP_NUM_THREADS": "1",
                   "MPLBACKEND": "Agg"}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=environment,
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def test_quickstart_prints_kl_and_test_likelihood_and_saves_the_figure_to_output(tmp_path):
    output = tmp_path / "docs" / "figure.png"
    completed = run_example("quickstart.py", tmp_path, "--output", str(output))
    assert re.search(rf"KL\(p_true \|\| p_model\)\s+: {FLOAT}", completed.stdout)
    assert re.search(rf"Test log-likelihood, EnergyRegressor : {FLOAT}", completed.stdout)
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "quickstart.png").exists()
    assert "epochs" in completed.stderr  # the progress bar


def test_quickstart_saves_the_figure_next_to_where_it_is_run_by_default(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    assert load_script(EXAMPLES / "quickstart.py").parse_args().output == Path("quickstart.png")


def test_grid_search_over_sigmas_reports_every_candidate(tmp_path):
    completed = run_example("gridsearch_sigmas.py", tmp_path)
    for sigmas in ["(0.05, 0.4)", "(0.1, 0.8)", "(0.2, 1.6)"]:
        assert sigmas in completed.stdout
    assert "Selected sigmas: (" in completed.stdout
    assert re.search(rf"learned proposal \(no tuning\)\s+: {FLOAT}", completed.stdout)


def test_cross_validation_on_dask_reports_every_model(tmp_path):
    pytest.importorskip("distributed")
    completed = run_example("cross_validation_dask.py", tmp_path)
    assert "Cluster: 2 workers" in completed.stdout
    for model in ["proposal, K=1", "proposal, K=4", "NCE baseline"]:
        assert re.search(rf"{re.escape(model)}\s+{FLOAT} \+- {FLOAT}", completed.stdout)


def test_dataframe_pipeline_reports_metrics_and_intervals(tmp_path):
    completed = run_example("dataframe_pipeline.py", tmp_path)
    assert "categorical__weather_snow" in completed.stdout
    assert re.search(rf"90% interval coverage : {FLOAT}", completed.stdout)
    assert "interval_90" in completed.stdout


def test_image_regression_prints_r2_nll_and_time(tmp_path):
    completed = run_example("image_regression.py", tmp_path)
    assert "(200, 32, 32) uint8" in completed.stdout
    assert re.search(rf"R\^2\s+{FLOAT}", completed.stdout)
    assert re.search(rf"test NLL\s+{FLOAT}", completed.stdout)
    assert re.search(r"fitted ConvExtractor \+ energy head in \d+ s", completed.stdout)


def test_calibration_prints_coverage_before_and_after_and_saves_a_figure(tmp_path):
    completed = run_example("calibration.py", tmp_path, "--output", str(tmp_path / "c.png"))
    for name in ["raw", "recalibrated"]:
        assert re.search(rf"{name}\s+(?:{FLOAT}\s+){{4}}\s*{FLOAT}\s+{FLOAT}", completed.stdout)
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_skpro_benchmark_reports_crps_and_log_loss_of_every_model(tmp_path):
    pytest.importorskip("skpro")
    completed = run_example("skpro_benchmark.py", tmp_path)
    for model in ["skebm EnergyRegressor", "skpro BayesianRidge", "skpro ResidualDouble"]:
        assert re.search(rf"{re.escape(model)}.*\s{FLOAT}\s+{FLOAT}$", completed.stdout, re.M)
