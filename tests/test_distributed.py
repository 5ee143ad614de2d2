"""Data-parallel fits over a ``torch.distributed`` process group (gloo, 2 CPU processes)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from distributed_fit import SETTINGS, data

from skebm import EnergyRegressor
from skebm._inputs import model_inputs
from skebm.distributed import local_fit
from skebm.nn._rows import row_window

WORKER = Path(__file__).with_name("distributed_fit.py")

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="needs torch.distributed with gloo")


def _torchrun(out: Path, mode: str) -> None:
    """Run the worker on 2 ranks; a hang fails the test after 120 s instead of blocking."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", str(WORKER), str(out), mode]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def single():
    X, y = data()
    return EnergyRegressor(**SETTINGS).fit(X, y)


def test_shares_of_a_minibatch_give_its_gradient(single):
    # What the ranks sum: each share's loss gradient (noise drawn as the whole batch
    # draws it), weighted by its share of the rows, is the whole minibatch's gradient.
    X, y = data()
    inputs = model_inputs(single._input_scaler, X[:30]).take(torch.arange(30), torch.device("cpu"))
    targets = torch.from_numpy(((y[:30, None] - single._target_scaler.mean)
                                / single._target_scaler.scale).astype(np.float32))
    module = single.module_

    def gradient(rows, window):
        loss_of = single._batch_loss(module, torch.Generator().manual_seed(3))
        module.zero_grad()
        with window:
            loss, _ = loss_of(inputs[rows], targets[rows])
        loss.backward()
        return torch.cat([p.grad.reshape(-1).double() for p in module.parameters()])

    whole = gradient(slice(0, 30), row_window(0, 30, 30))
    shares = (11 / 30 * gradient(slice(0, 11), row_window(0, 11, 30))
              + 19 / 30 * gradient(slice(11, 30), row_window(11, 30, 30)))
    # float32 sums in another order: ~1e-7 of the largest component
    torch.testing.assert_close(shares, whole, rtol=0, atol=1e-6 * whole.abs().max().item())


def test_two_gloo_ranks_hold_one_model_that_predicts_like_one_process(tmp_path, single):
    _torchrun(tmp_path, "fit")
    ranks = [np.load(tmp_path / f"rank{rank}.npz") for rank in (0, 1)]
    np.testing.assert_array_equal(ranks[0]["parameters"], ranks[1]["parameters"])
    np.testing.assert_array_equal(ranks[0]["predictions"], ranks[1]["predictions"])
    assert int(ranks[0]["world_size"]) == 2 and single.world_size_ == 1
    # The first held-out check (after 4 steps) matches the single process to float
    # rounding (1e-8 measured; a rank drawing its own noise is 2e-3 off).
    np.testing.assert_allclose(ranks[0]["scores"][0], single.history_[0]["validation_score"],
                               rtol=0, atol=1e-6)
    # Later steps: about a third of the gradient components are below 1e-7, where the
    # 1e-8 rounding of the sum flips Adam's normalised step (eps 1e-8) by up to
    # 0.6 learning rates, so the 12-step fits drift apart: 4e-4 measured (own noise
    # per rank: 1.2e-2).
    X, _ = data()
    np.testing.assert_allclose(ranks[0]["predictions"], single.predict(X), rtol=0, atol=3e-3)


def test_a_bad_input_on_one_rank_fails_every_rank(tmp_path):
    _torchrun(tmp_path, "nan")
    own, other = (tmp_path / "rank1.txt").read_text(), (tmp_path / "rank0.txt").read_text()
    assert "NaN" in own
    assert "fit failed on rank 1 of 2" in other and "NaN" in other


@pytest.fixture
def one_rank_group():
    """An initialised gloo process group of this process alone (world size 1)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0,
                            world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_local_fit_ignores_the_process_group(one_rank_group, monkeypatch):
    def no_collective(*args, **kwargs):
        raise AssertionError("a collective ran inside local_fit")

    for name in ("all_gather_object", "broadcast_object_list", "broadcast", "all_reduce"):
        monkeypatch.setattr(dist, name, no_collective)
    X, y = data()
    with local_fit():
        model = EnergyRegressor(**SETTINGS).fit(X, y)
    assert model.world_size_ == 1
    with pytest.raises(AssertionError, match="a collective ran"):  # the group is seen outside
        EnergyRegressor(**SETTINGS).fit(X, y)
