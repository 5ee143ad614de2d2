import pytest
import torch
from torch import nn

from skebm._training import TrainingConfig, train
from skebm.exceptions import TrainingDivergedError


def regression_data(n=64):
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(n, 2, generator=generator)
    return inputs, inputs @ torch.tensor([[1.0], [-2.0]])


def squared_error(module):
    def batch_loss(inputs, targets):
        loss = (module(inputs) - targets).square().mean()
        return loss, {"mse": loss}
    return batch_loss


def run(module, batch_loss, config, validation_score=None):
    inputs, targets = regression_data()
    return train(module, batch_loss, inputs, targets, config, torch.Generator().manual_seed(0),
                 torch.device("cpu"), validation_score)


def test_training_reduces_the_loss_and_records_history():
    module = nn.Linear(2, 1)
    history = run(module, squared_error(module), TrainingConfig(20, 16, 0.05))
    assert len(history) == 20
    assert [h["epoch"] for h in history] == list(range(1, 21))
    assert history[-1]["mse"] < 0.1 * history[0]["mse"]


def test_non_finite_loss_is_recovered_by_restoring_and_halving_the_step():
    module = nn.Linear(2, 1)
    calls = {"n": 0}
    mse = squared_error(module)

    def flaky(inputs, targets):
        calls["n"] += 1
        loss, parts = mse(inputs, targets)
        return (loss * float("nan"), parts) if calls["n"] == 5 else (loss, parts)

    history = run(module, flaky, TrainingConfig(3, 16, 0.05))
    assert len(history) == 3
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_persistent_divergence_raises_a_named_error():
    module = nn.Linear(2, 1)

    def always_nan(inputs, targets):
        loss = module(inputs).sum() * float("nan")
        return loss, {"loss": loss}

    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        run(module, always_nan, TrainingConfig(3, 16, 0.05))


def test_early_stopping_stops_and_restores_the_best_epoch():
    module = nn.Linear(2, 1)
    scores = iter([1.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    snapshots = []

    def validation_score():
        snapshots.append(module.weight.detach().clone())
        return next(scores)

    history = run(module, squared_error(module), TrainingConfig(50, 16, 0.05, n_iter_no_change=3),
                  validation_score)
    assert len(history) == 5  # best at epoch 2, then three epochs without improvement
    torch.testing.assert_close(module.weight.detach(), snapshots[1])


def test_a_lone_last_row_joins_the_previous_batch():
    from skebm._training import _batch_bounds

    assert _batch_bounds(65, 32) == [(0, 32), (32, 65)]
    assert _batch_bounds(64, 32) == [(0, 32), (32, 64)]
    assert _batch_bounds(1, 32) == [(0, 1)]
    assert _batch_bounds(70, 32) == [(0, 32), (32, 64), (64, 70)]


@pytest.mark.parametrize(("n_rows", "epochs"), [(300, 400), (2000, 63), (50_000, 10)])
def test_auto_schedule_is_a_budget_of_steps_with_at_least_ten_passes(n_rows, epochs):
    from skebm._training import STEP_BUDGET, auto_schedule

    max_epochs, period = auto_schedule(n_rows, batch_size=64)
    assert max_epochs == epochs
    steps_per_epoch = -(-n_rows // 64)
    if epochs > 10:
        assert STEP_BUDGET <= max_epochs * steps_per_epoch < STEP_BUDGET + steps_per_epoch
    # About 25 held-out checks per fit; every epoch when there are fewer epochs.
    assert min(max_epochs, 20) <= max_epochs / period <= 30


def _fixed_scores(values, spread):
    """Validation scores per check, each with 100 rows around the given mean."""
    rows = spread * torch.linspace(-1.7, 1.7, 100).numpy()
    scores = iter(values)
    return lambda: next(scores) + rows


def _first_weight_after(module, scores, spread):
    snapshots = []

    def batch_loss(inputs, targets):
        loss, parts = squared_error(module)(inputs, targets)
        snapshots.append(module.weight.detach().clone())
        return loss, parts

    run(module, batch_loss, TrainingConfig(4, 64, 0.05, n_iter_no_change=10),
        _fixed_scores(scores, spread))
    return module.weight.detach(), snapshots


def test_best_check_is_restored_only_when_clearly_better_than_the_last():
    # One step per epoch: snapshot k holds the weights before step k + 1.
    scores = [0.0, 1.0, 0.5, 0.6]
    # Per-row spread 10: standard error ~1, so the last check (0.6) is within
    # one error of the best (1.0) and the final weights are kept.
    final, snapshots = _first_weight_after(nn.Linear(2, 1), scores, spread=10.0)
    assert not torch.equal(final, snapshots[2])
    # Per-row spread 0.1: the best is clearly better and its weights come back.
    final, snapshots = _first_weight_after(nn.Linear(2, 1), scores, spread=0.1)
    torch.testing.assert_close(final, snapshots[2])
