import numpy as np
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


def _iterates_and_result(module, config, validation_score=None):
    """Parameters before every step of a fit, and the parameters it returns."""
    iterates = []

    def batch_loss(inputs, targets):
        iterates.append(torch.cat([p.detach().reshape(-1) for p in module.parameters()]))
        return squared_error(module)(inputs, targets)

    run(module, batch_loss, config, validation_score)
    return iterates, torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def _moving_average(iterates):
    """The documented average: weight 1 - min(0.99, (1 + t) / (10 + t)) for step t."""
    from skebm._training import AVERAGE_DECAY

    average = iterates[0].clone()
    for step, value in enumerate(iterates[1:], start=1):
        weight = 1.0 - min(AVERAGE_DECAY, (1 + step) / (10 + step))
        average = average + weight * (value - average)
    return average


def test_training_returns_the_moving_average_of_the_iterates():
    module = nn.Linear(2, 1)
    # 64 rows in batches of 16: 4 steps per epoch, 200 steps in all.
    iterates, result = _iterates_and_result(module, TrainingConfig(50, 16, 0.05))
    assert len(iterates) == 200
    # batch_loss sees the parameters before each step, so the average over the
    # recorded iterates lacks only the last update, which has weight 0.01.
    assert torch.allclose(result, _moving_average(iterates), atol=1e-3)
    assert not torch.allclose(result, iterates[-1], atol=1e-4)


def test_a_short_fit_is_not_pulled_back_to_the_initial_parameters():
    module = nn.Linear(2, 1)
    initial = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
    iterates, result = _iterates_and_result(module, TrainingConfig(1, 16, 0.05))
    assert len(iterates) == 4
    # The average follows a short fit: most of the way from the start to the last iterate.
    moved, full = (result - initial).norm(), (iterates[-1] - initial).norm()
    assert moved > 0.5 * full


def test_held_out_checks_score_the_averaged_parameters():
    module = nn.Linear(2, 1)
    checked = []

    def validation_score():
        checked.append(torch.cat([p.detach().reshape(-1) for p in module.parameters()]))
        return float(len(checked))  # always improving: the last check is the best

    iterates, result = _iterates_and_result(
        module, TrainingConfig(5, 16, 0.05, n_iter_no_change=3), validation_score)
    # Checked parameters are the average, not the live iterate, and the last one is kept.
    torch.testing.assert_close(result, checked[-1])
    assert torch.allclose(checked[-1], _moving_average(iterates), atol=1e-2)
    # The live parameters are back in place after each check: training continues from them.
    assert not torch.allclose(checked[0], iterates[4], atol=1e-6)


def _batch_norm_network():
    torch.manual_seed(0)
    extractor = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU())
    return extractor, nn.Sequential(extractor, nn.Linear(8, 1))


def _statistics_of(extractor, inputs):
    """Batch mean and unbiased variance of the batch-norm layer's inputs, one batch."""
    with torch.no_grad():
        features = extractor[0](inputs)
    return features.mean(dim=0), features.var(dim=0)


@pytest.mark.parametrize("with_checks", [False, True])
def test_batch_norm_statistics_belong_to_the_returned_parameters(with_checks):
    inputs, targets = regression_data()
    extractor, module = _batch_norm_network()
    config = TrainingConfig(30, 64, 0.05, n_iter_no_change=50 if with_checks else None)
    scores = []

    def validation_score():
        # Every check sees statistics computed for the parameters it scores.
        mean, var = _statistics_of(extractor, inputs)
        torch.testing.assert_close(extractor[1].running_mean, mean)
        torch.testing.assert_close(extractor[1].running_var, var)
        scores.append(float(-len(scores)))  # the first check stays the best
        return scores[-1]

    train(module, squared_error(module), inputs, targets, config,
          torch.Generator().manual_seed(0), torch.device("cpu"),
          validation_score if with_checks else None, [extractor])
    # One batch of all 64 rows: the statistics are exactly that batch's, under the
    # returned (averaged, or restored best) parameters.
    mean, var = _statistics_of(extractor, inputs)
    torch.testing.assert_close(extractor[1].running_mean, mean)
    torch.testing.assert_close(extractor[1].running_var, var)
    assert extractor[1].momentum == 0.1 and not module.training
    assert len(scores) == (30 if with_checks else 0)


def test_batch_norm_statistics_from_many_rows_average_the_batches():
    from skebm._training import BATCH_NORM_ROWS

    inputs = torch.randn(BATCH_NORM_ROWS + 100, 2, generator=torch.Generator().manual_seed(1))
    targets = inputs[:, :1]
    extractor, module = _batch_norm_network()
    train(module, squared_error(module), inputs, targets,
          TrainingConfig(1, BATCH_NORM_ROWS // 4, 0.01),
          torch.Generator().manual_seed(0), torch.device("cpu"), None, [extractor])
    # BATCH_NORM_ROWS evenly spaced rows in four equal batches: the plain mean of the
    # batch means is the mean over those rows.
    rows = torch.linspace(0, len(inputs) - 1, BATCH_NORM_ROWS).round().long()
    mean, _ = _statistics_of(extractor, inputs[rows])
    torch.testing.assert_close(extractor[1].running_mean, mean)


def test_recomputing_batch_norm_statistics_leaves_the_trajectory_unchanged():
    inputs, targets = regression_data()
    results = []
    for extractors in ([], "extractor"):
        extractor, module = _batch_norm_network()
        history = train(module, squared_error(module), inputs, targets,
                        TrainingConfig(10, 16, 0.05, n_iter_no_change=20),
                        torch.Generator().manual_seed(0), torch.device("cpu"),
                        lambda: 0.0, [extractor] if extractors else [])
        results.append(([h["mse"] for h in history], extractor[0].weight.detach().clone(),
                        extractor[1].running_mean.clone()))
    (losses, weight, stale), (same_losses, same_weight, fresh) = results
    assert losses == same_losses
    torch.testing.assert_close(weight, same_weight)
    assert not torch.allclose(stale, fresh)


class _InfiniteWithoutGradients(nn.Module):
    """Finite in training steps, infinite in the statistics pass (which has no gradients)."""

    def forward(self, inputs):
        return inputs if torch.is_grad_enabled() else inputs * float("inf")


def test_non_finite_batch_norm_statistics_are_reported_not_returned():
    inputs, targets = regression_data()
    extractor = nn.Sequential(nn.Linear(2, 8), _InfiniteWithoutGradients(), nn.BatchNorm1d(8))
    module = nn.Sequential(extractor, nn.Linear(8, 1))
    with pytest.raises(TrainingDivergedError, match="non-finite"):
        train(module, squared_error(module), inputs, targets, TrainingConfig(2, 16, 0.01),
              torch.Generator().manual_seed(0), torch.device("cpu"), None, [extractor])


def test_weighted_epochs_visit_rows_in_proportion_to_their_weights():
    from skebm._training import epoch_order

    weights = torch.tensor([4.0, 1.0, 0.0, 3.0])
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        counts = torch.bincount(epoch_order(8, generator, weights), minlength=4)
        assert counts.tolist() == [4, 1, 0, 3]  # 8 draws: exactly 8 * w / sum(w) here
    unweighted = epoch_order(8, torch.Generator().manual_seed(1))
    expected = torch.randperm(8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(unweighted, expected)  # without weights: a plain permutation


@pytest.mark.parametrize("make", ["energy", "distilled"])
def test_batches_of_one_row_train_without_a_process_group(make):
    from tests.helpers import linear_data, tiny_estimators

    X, y = linear_data(n=30)
    model = tiny_estimators()[make](batch_size=1, max_epochs=1).fit(X, y)
    assert np.all(np.isfinite(model.predict(X)))
    # One row of positive weight: a fit on a single row, as without weights.
    weights = np.r_[np.zeros(29), 1.0]
    single = tiny_estimators()[make](max_epochs=1).fit(X, y, sample_weight=weights)
    assert np.all(np.isfinite(single.predict(X)))
