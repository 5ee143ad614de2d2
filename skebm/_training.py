"""The PyTorch training loop shared by every estimator.

Minibatch Adam (decoupled weight decay) with a cosine learning-rate decay, an
exponential moving average of the parameters, divergence recovery and optional
early stopping on a held-out score, plus the rule that turns a budget of
optimiser steps into passes over the data. Knows nothing about scikit-learn.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from skebm._batches import InputBatches, as_batches, to_device
from skebm._distributed import ProcessGroup
from skebm._early_stopping import EarlyStopping
from skebm.exceptions import TrainingDivergedError
from skebm.nn._rows import row_window

__all__ = ["AVERAGE_DECAY", "BATCH_NORM_ROWS", "STEP_BUDGET", "ParameterAverage",
           "TrainingConfig", "auto_schedule", "epoch_order", "train"]

BatchLoss = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]

_MAX_RECOVERIES = 4

STEP_BUDGET = 2000
"""Optimiser steps of a ``max_epochs="auto"`` fit: the same for every data size."""
_MIN_AUTO_EPOCHS = 10
_AUTO_CHECKS = 25
"""Held-out checks per ``max_epochs="auto"`` fit (patience counts these)."""

AVERAGE_DECAY = 0.99
"""Decay per step of the parameter average: it spans about the last 100 steps."""
BATCH_NORM_ROWS = 1024
"""Most training rows that batch-norm statistics are recomputed from (:func:`train`)."""


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of one call to :func:`train`."""

    max_epochs: int
    batch_size: int
    learning_rate: float
    n_iter_no_change: int | None = None
    verbose: int = 0
    weight_decay: float = 0.0
    validation_period: int = 1
    """Epochs between held-out checks (the last epoch is always checked)."""


def auto_schedule(n_rows: int, batch_size: int) -> tuple[int, int]:
    """Epochs and validation period of a ``max_epochs="auto"`` fit on ``n_rows`` rows.

    The budget is a number of optimiser steps, :data:`STEP_BUDGET`, not of
    passes: a 300-row table gets hundreds of passes, a 10 000-row table a few
    dozen, so small tables are not under-trained and large ones not
    over-trained (early stopping on held-out data guards both), and the fit
    time hardly grows with the rows. At least ``10`` passes are made. The
    held-out score is checked about 25 times per fit.
    """
    steps_per_epoch = len(_batch_bounds(n_rows, min(batch_size, n_rows)))
    epochs = max(_MIN_AUTO_EPOCHS, math.ceil(STEP_BUDGET / steps_per_epoch))
    return epochs, max(1, round(epochs / _AUTO_CHECKS))


def train(
    module: nn.Module,
    batch_loss: BatchLoss,
    inputs: InputBatches | torch.Tensor,
    targets: torch.Tensor,
    config: TrainingConfig,
    generator: torch.Generator,
    device: torch.device,
    validation_score: Callable[[], float | np.ndarray] | None = None,
    extractors: Sequence[nn.Module] = (),
    sample_weight: torch.Tensor | None = None,
    group: ProcessGroup | None = None,
) -> list[dict]:
    """Train ``module`` by minimising ``batch_loss`` over minibatches.

    Parameters
    ----------
    module : nn.Module
        Network to train in place (already on ``device``).
    batch_loss : callable
        ``batch_loss(inputs, targets) -> (loss, parts)`` for one minibatch on
        ``device``; ``parts`` maps names to scalar tensors to log.
    inputs : InputBatches or Tensor
        Training inputs (a tensor: ready model inputs on the CPU); each batch
        is read, moved to ``device`` and converted there, one at a time.
    targets : Tensor
        Training targets on the CPU, ``(n, d)``.
    config : TrainingConfig
        Epochs, batch size, learning rate, weight decay, early stopping and verbosity.
    generator : torch.Generator
        CPU source of randomness for shuffling.
    device : torch.device
        Where the module lives.
    validation_score : callable, optional
        Returns a held-out score (higher is better) for early stopping: a
        float, or one score per held-out row (their mean is the score). When
        given with ``config.n_iter_no_change``, training stops after that many
        checks (one every ``config.validation_period`` epochs) without
        improvement, and the parameters of the best check are restored.
    extractors : sequence of nn.Module, default=()
        The parts of ``module`` that read the inputs alone (feature
        extractors). Their batch-normalisation statistics are recomputed from
        the training inputs whenever the averaged parameters are checked or
        returned (see Notes).
    sample_weight : Tensor of shape (n,), optional
        Positive weights of the training rows. Each epoch then visits ``n``
        rows drawn by systematic resampling with probabilities proportional
        to the weights, in random order (see :func:`epoch_order`), so that the
        minibatch losses are weighted means in expectation; ``None`` visits
        every row once per epoch.
    group : ProcessGroup, optional
        The processes that train ``module`` together (data parallel, see
        :mod:`skebm._distributed`), each passing the same data: each computes
        the loss on its share of every minibatch and all take the step of the
        whole minibatch; rank 0's held-out score decides early stopping and
        rank 0's parameters are the returned ones on every rank.

    Notes
    -----
    The parameters that are checked, restored and returned are an exponential
    moving average of the optimiser's iterates (:class:`ParameterAverage`,
    decay :data:`AVERAGE_DECAY` per step), not the last iterate: the average
    is much less noisy, so held-out checks compare models rather than
    minibatch noise, and it generalises better on small tables. Batch-norm
    running statistics tracked during training belong to the live iterate, not
    to the average; used with the averaged parameters they give a different
    network from check to check (on 600 blob images the test NLL of
    neighbouring checks differed by up to 0.33 nats). So, as for stochastic weight
    averaging, the statistics of the batch-norm layers in ``extractors`` are
    recomputed for the averaged parameters by a pass over (at most
    :data:`BATCH_NORM_ROWS` evenly spaced, in cumulative weight when
    ``sample_weight`` is given) training inputs, without gradients or random
    numbers: the training trajectory is unchanged.

    Returns
    -------
    list of dict
        One entry per epoch with the mean of each loss part and, in epochs
        with a held-out check, ``"validation_score"``.

    Raises
    ------
    TrainingDivergedError
        If the loss stays non-finite after repeatedly halving the learning rate,
        or the returned parameters or batch-norm statistics are not finite.
    """
    inputs = as_batches(inputs)
    n_rows = inputs.shape[0]
    batch_size = min(config.batch_size, n_rows)
    min_batch = 2 if group is None else max(2, group.world_size)
    if group is not None and batch_size < min_batch:
        raise ValueError(
            f"A fit on {group.world_size} processes needs minibatches of at least as many "
            f"rows, got batch_size={config.batch_size} with {n_rows} training rows."
        )
    steps_per_epoch = len(_batch_bounds(n_rows, batch_size, min_batch))
    if group is not None:
        group.broadcast_module(module)
    # foreach: one fused update for all tensors (on the CPU the default loops over them).
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay, foreach=True)
    total_steps = config.max_epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step / total_steps, 1.0)))
    )
    average = ParameterAverage(module, AVERAGE_DECAY)
    progress = _progress_bar(config)
    history: list[dict] = []
    stopping = (EarlyStopping(config.n_iter_no_change)
                if validation_score is not None and config.n_iter_no_change is not None
                else None)
    recoveries = 0
    epoch = 0
    checkpoint_epoch = -1
    while epoch < config.max_epochs:
        if epoch % config.validation_period == 0 and epoch != checkpoint_epoch:
            # Recovery restarts from here; one copy per check period keeps tiny epochs cheap.
            checkpoint = _snapshot(module, optimizer, schedule, generator, average)
            checkpoint_epoch = epoch
        module.train()
        order = epoch_order(n_rows, generator, sample_weight)
        parts_sum = _run_epoch(module, batch_loss, inputs, targets, order, batch_size,
                               optimizer, schedule, device, average, group)
        if parts_sum is None or not _all_finite(module):
            recoveries += 1
            _restore(checkpoint, module, optimizer, schedule, generator, average)
            del history[checkpoint_epoch:]
            epoch = checkpoint_epoch
            if recoveries > _MAX_RECOVERIES:
                module.eval()  # the last good parameters, as a warm start continues from them
                raise TrainingDivergedError(
                    f"Training diverged (non-finite loss) in epoch {epoch + 1} and did not "
                    f"recover after halving the learning rate {_MAX_RECOVERIES} times. Try a "
                    "smaller learning_rate, a larger batch_size or check the inputs' scale."
                )
            _halve_learning_rate(optimizer, schedule)
            continue
        record = {"epoch": epoch + 1, **{k: v / steps_per_epoch for k, v in parts_sum.items()}}
        check = (epoch + 1) % config.validation_period == 0 or epoch + 1 == config.max_epochs
        if validation_score is not None and check:
            module.eval()
            with average.applied():
                # The best state below is copied with these statistics (no step in between).
                _refresh_batch_norm(extractors, inputs, batch_size, device, sample_weight)
                last_score = _mean(validation_score())
            if group is not None:  # one decision on every rank
                last_score = group.broadcast_object(last_score)
            record["validation_score"] = last_score
        history.append(record)
        _report(record, progress, config.verbose)
        epoch += 1
        if stopping is not None and check:
            with average.applied():  # the scored parameters are the ones kept
                if stopping.update(last_score, module):
                    break
    if progress is not None:
        progress.close()
    if stopping is None or not stopping.restore(module):
        average.copy_to_module()
        _refresh_batch_norm(extractors, inputs, batch_size, device, sample_weight)
    module.eval()
    if group is not None:  # bit for bit the same model on every rank
        group.broadcast_module(module)
    if not _all_finite(module):
        raise TrainingDivergedError(
            "Training ended with non-finite parameters or batch-norm statistics: the "
            "feature extractor gives non-finite values on the training inputs. Check the "
            "inputs' scale or try a smaller learning_rate."
        )
    return history


@torch.no_grad()
def _refresh_batch_norm(extractors: Sequence[nn.Module], inputs: InputBatches,
                        batch_size: int, device: torch.device,
                        sample_weight: torch.Tensor | None = None) -> None:
    """Recompute the running statistics of the batch-norm layers in ``extractors``.

    Each statistic becomes the plain average over minibatches of at most
    :data:`BATCH_NORM_ROWS` evenly spaced training rows (evenly spaced in
    cumulative ``sample_weight`` when given), normalised as in training. The
    layers' momentum and the modules' train/eval modes are kept.
    """
    norms = [layer for extractor in extractors for layer in extractor.modules()
             if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats]
    if not norms:
        return
    n_rows = inputs.shape[0]
    n_picked = min(n_rows, BATCH_NORM_ROWS)
    if sample_weight is None:
        rows = torch.linspace(0, n_rows - 1, n_picked).round().long()
    else:
        rows = _systematic_rows(sample_weight, (torch.arange(n_picked) + 0.5) / n_picked)
    momenta = [layer.momentum for layer in norms]
    modes = [extractor.training for extractor in extractors]
    for layer in norms:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches below
    for extractor in extractors:
        extractor.train()
    try:
        for start, stop in _batch_bounds(len(rows), min(batch_size, len(rows))):
            batch = inputs.take(rows[start:stop], device)
            for extractor in extractors:
                extractor(batch)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
        for extractor, mode in zip(extractors, modes):
            extractor.train(mode)


class ParameterAverage:
    """Exponential moving average of a module's trainable parameters.

    After step ``t`` the average moves towards the parameters with weight
    ``1 - min(decay, (1 + t) / (10 + t))``: early on it follows them closely, so a
    fit of a few steps is not pulled back to the initial parameters.

    Parameters
    ----------
    module : nn.Module
        The module whose parameters are averaged (the average starts at them).
    decay : float
        Largest decay per step, in ``[0, 1)``.
    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        self._parameters = [p for p in module.parameters() if p.requires_grad]
        self._average = [p.detach().clone() for p in self._parameters]
        self._decay = decay
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the module's current parameters (after a step)."""
        self.steps += 1
        weight = 1.0 - min(self._decay, (1 + self.steps) / (10 + self.steps))
        torch._foreach_lerp_(self._average, [p.detach() for p in self._parameters], weight)

    @torch.no_grad()
    def copy_to_module(self) -> None:
        """Put the averaged values into the averaged module's parameters."""
        for average, parameter in zip(self._average, self._parameters):
            parameter.copy_(average)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Hold the averaged parameters in the module inside the ``with`` block."""
        live = [p.detach().clone() for p in self._parameters]
        self.copy_to_module()
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, value in zip(self._parameters, live):
                    parameter.copy_(value)

    def state(self) -> tuple:
        """A copy of the average and its step count."""
        return [a.clone() for a in self._average], self.steps

    def load(self, state: tuple) -> None:
        """Return to a :meth:`state`."""
        values, self.steps = state
        for average, value in zip(self._average, values):
            average.copy_(value)


def _mean(scores) -> float:
    """Mean of a held-out score or of per-row scores."""
    return float(np.mean(np.asarray(scores, dtype=np.float64)))


def epoch_order(n_rows: int, generator: torch.Generator,
                sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The training rows one epoch visits, in order.

    Without weights, a random permutation of the ``n_rows`` rows. With
    positive ``sample_weight``, ``n_rows`` rows drawn by systematic resampling
    (one uniform offset, then evenly spaced points in cumulative weight) and
    shuffled: row ``i`` appears ``n_rows * w_i / sum(w)`` times rounded up or
    down, so over the epochs a row of weight 2 is visited as often as two
    copies of a row of weight 1 would be, with far less variation than
    independent draws.

    Parameters
    ----------
    n_rows : int
        Training rows.
    generator : torch.Generator
        CPU source of the offset and the shuffle.
    sample_weight : Tensor of shape (n_rows,), optional
        Positive row weights.

    Returns
    -------
    Tensor of shape (n_rows,), dtype int64
        Row indices.

    Examples
    --------
    >>> import torch
    >>> order = epoch_order(4, torch.Generator().manual_seed(0), torch.tensor([3., 1., 0., 0.]))
    >>> sorted(order.tolist())
    [0, 0, 0, 1]
    """
    order = torch.randperm(n_rows, generator=generator)
    if sample_weight is None:
        return order
    offset = torch.rand(1, generator=generator, dtype=torch.float64)
    return _systematic_rows(sample_weight, (torch.arange(n_rows) + offset) / n_rows)[order]


def _systematic_rows(sample_weight: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The rows whose share of the cumulative weight holds each of ``points`` in [0, 1)."""
    cumulative = torch.cumsum(sample_weight.double(), dim=0)
    cumulative = cumulative / cumulative[-1]
    rows = torch.searchsorted(cumulative, points.double(), right=True)
    return rows.clamp(max=len(sample_weight) - 1)


def _run_epoch(module, batch_loss, inputs, targets, order, batch_size, optimizer, schedule,
               device, average, group=None) -> dict | None:
    """One pass over minibatches of the rows ``order``; ``None`` if a loss was not finite.

    With a ``group``, each process takes its share of each minibatch.
    """
    parts_sum: dict[str, float] = {}
    min_batch = 2 if group is None else max(2, group.world_size)
    for start, stop in _batch_bounds(inputs.shape[0], batch_size, min_batch):
        index = order[start:stop]
        window, share = nullcontext(), 1.0
        if group is not None:
            first, last = group.share(len(index))
            window, share = row_window(first, last, len(index)), (last - first) / len(index)
            index = index[first:last]
        with window:
            loss, parts = batch_loss(inputs.take(index, device),
                                     to_device(targets[index], device))
        values = _backward(loss, parts, optimizer, group, share)
        if values is None:
            return None
        optimizer.step()
        average.update()
        schedule.step()
        for name, value in values.items():
            parts_sum[name] = parts_sum.get(name, 0.0) + value
    return parts_sum


def _backward(loss, parts, optimizer, group, share) -> dict | None:
    """Gradients of ``loss`` (summed over the ``group`` by ``share``) and the logged parts.

    ``None``, with no gradients guaranteed, when the loss is not finite (on any process).
    """
    if group is None:
        if not torch.isfinite(loss):
            return None
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return {name: float(value.detach()) for name, value in parts.items()}
    optimizer.zero_grad(set_to_none=True)
    loss.backward()  # also when not finite: every process must join the sum
    parameters = [p for param_group in optimizer.param_groups for p in param_group["params"]]
    total, values = group.sum_step(loss, parts, parameters, share)
    return values if math.isfinite(total) else None


def _batch_bounds(n_rows: int, batch_size: int, min_rows: int = 2) -> list[tuple[int, int]]:
    """Minibatch (start, stop) pairs; a last batch under ``min_rows`` joins the one before.

    A batch of one breaks batch normalisation in user-supplied extractors; a
    data-parallel fit needs a row per process in every batch.
    """
    starts = list(range(0, n_rows, batch_size))
    if len(starts) > 1 and n_rows - starts[-1] < min_rows:
        starts.pop()
    return list(zip(starts, [*starts[1:], n_rows]))


def _all_finite(module: nn.Module) -> bool:
    """Whether every parameter and floating-point buffer (e.g. batch-norm statistics) is finite."""
    tensors = module.state_dict().values()
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


def _snapshot(module, optimizer, schedule, generator, average) -> tuple:
    return (
        copy.deepcopy(module.state_dict()),
        copy.deepcopy(optimizer.state_dict()),
        schedule.state_dict(),
        generator.get_state(),
        average.state(),
    )


def _restore(checkpoint, module, optimizer, schedule, generator, average) -> None:
    module_state, optimizer_state, schedule_state, generator_state, average_state = checkpoint
    module.load_state_dict(module_state)
    optimizer.load_state_dict(optimizer_state)
    schedule.load_state_dict(schedule_state)
    generator.set_state(generator_state)
    average.load(average_state)


def _halve_learning_rate(optimizer, schedule) -> None:
    """Halve the learning rate of ``optimizer`` and of its ``schedule`` from now on."""
    for group in optimizer.param_groups:
        group["initial_lr"] *= 0.5
        group["lr"] *= 0.5
    schedule.base_lrs = [base * 0.5 for base in schedule.base_lrs]


def _report(record: dict, progress, verbose: int) -> None:
    """Show an epoch's record on the progress bar, or as a line when ``verbose`` without one."""
    if progress is not None:
        progress.update(1)
        progress.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
    elif verbose:
        print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in record.items()), flush=True)


def _progress_bar(config: TrainingConfig):
    """A tqdm bar over epochs when ``verbose`` is set (plain lines if tqdm fails to import)."""
    if not config.verbose:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # plain per-epoch lines instead
        return None
    return tqdm(total=config.max_epochs, desc="epochs", unit="epoch")

