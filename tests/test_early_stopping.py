"""The early-stopping rule, the held-out split and the restored best parameters."""

import pytest
import torch
from torch import nn

from skebm._early_stopping import (
    MIN_AUTO_VALIDATION_ROWS,
    EarlyStopping,
    held_out_rows,
    uses_early_stopping,
)


def test_stops_after_patience_checks_without_strict_improvement():
    stopping, module = EarlyStopping(patience=2), nn.Linear(1, 1)
    decisions = [stopping.update(score, module) for score in (1.0, 1.0, 2.0, 1.5, 2.0)]
    assert decisions == [False, False, False, False, True]
    assert stopping.best_score == 2.0


def test_restore_loads_the_state_of_the_best_check():
    stopping, module = EarlyStopping(patience=5), nn.Linear(1, 1)
    with torch.no_grad():
        module.weight.fill_(3.0)
        stopping.update(1.0, module)
        module.weight.fill_(-1.0)
        stopping.update(0.5, module)
    assert stopping.restore(module)
    assert module.weight.item() == 3.0


def test_restore_does_nothing_before_any_check():
    module = nn.Linear(1, 1)
    before = module.weight.detach().clone()
    assert not EarlyStopping(patience=1).restore(module)
    torch.testing.assert_close(module.weight.detach(), before, rtol=0, atol=0)


def test_auto_holds_rows_out_only_with_enough_of_them():
    fraction = 0.1
    enough = 10 * MIN_AUTO_VALIDATION_ROWS
    assert uses_early_stopping("auto", fraction, enough)
    assert not uses_early_stopping("auto", fraction, enough - 10)
    assert uses_early_stopping(True, fraction, 5) and not uses_early_stopping(False, fraction, 5)


def test_held_out_rows_partition_the_rows():
    held_out, kept = held_out_rows(50, 0.2, torch.Generator().manual_seed(0))
    assert len(held_out) == 10
    assert sorted(torch.cat([held_out, kept]).tolist()) == list(range(50))


@pytest.mark.parametrize("fraction", [0.001, 0.999])
def test_held_out_rows_refuse_an_empty_side(fraction):
    with pytest.raises(ValueError, match="validation_fraction"):
        held_out_rows(50, fraction, torch.Generator().manual_seed(0))
