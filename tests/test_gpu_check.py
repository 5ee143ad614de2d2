"""benchmarks/gpu_check.py: skips cleanly without CUDA; its CPU mode runs the same checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
ROOT = SCRIPT.parents[1]


def run_script(*arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                  "")])}
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True,
                          text=True, env=env, cwd=SCRIPT.parent, timeout=1800)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without CUDA")
def test_without_cuda_the_check_says_skipped_and_succeeds():
    result = run_script()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "skipped: no CUDA"


@pytest.mark.slow
def test_cpu_mode_passes_every_check():
    result = run_script("--device", "cpu", "--fast")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 of 10 configurations passed" in result.stdout
