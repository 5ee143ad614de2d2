"""Batched, chunked evaluation of a fitted EnergyModel for a fixed set of input rows.

The bridge between the torch network and the NumPy distribution objects: it
converts targets between user units and the standardised units the network
works in, keeps memory bounded by evaluating in chunks, and caches the per-row
parts (the energy head's input projection and the proposal mixture) so that
repeated density queries never re-run the feature extractor. It holds a copy
of the energy head, so a later fit of the estimator never changes it.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy.special import ndtri
from scipy.stats import qmc

from skebm._batches import InputBatches, as_batches
from skebm._chunking import rows_per_point_chunk
from skebm._quadrature import FineGrid
from skebm._threads import threads_from
from skebm.exceptions import NonFiniteOutputError
from skebm.nn import EnergyModel, MixtureParameters, mixture_log_prob
from skebm.nn.mixture import samples_from_base_draws

__all__ = ["EnergyEvaluator", "quasi_random_draws"]

_MODE_STEPS = 60
_TAIL_REACH = 6.0  # the 1-D grid reaches this many base-measure standard deviations
_FINE_GRID_SIZE = 2**15 + 1
_STANDARD_TARGET_LIMIT = 1e15
"""Largest standardised target magnitude passed to the network (float32-safe)."""


class EnergyEvaluator:
    """Evaluate f(x_i, y) and the proposal q(y | x_i) for ``n`` fixed rows x_i.

    Parameters
    ----------
    model : EnergyModel
        Fitted network, in eval mode. Only the energy head is kept (a copy).
    inputs : InputBatches or Tensor
        Model inputs of the ``n`` rows, converted chunk by chunk on ``device``
        (a tensor is taken as ready model inputs).
    target_mean, target_scale : ndarray of shape (d,)
        The affine map from standardised to user target units.
    grid_bounds : tuple of float
        Lower and upper end of the training targets' range (plus a margin) in
        standardised units; the 1-D grid's dense core.
    device : torch.device
        Where to run the network.
    rows_per_chunk : int, optional
        Rows pushed through the feature extractor at once; by default the
        shared policy of :func:`skebm._chunking.rows_per_chunk`.
    n_threads : int, optional
        Torch intra-op threads of every later evaluation (the fit's
        ``n_threads_``), torch's setting restored after each; ``None``
        evaluates with torch's setting of the moment.

    Raises
    ------
    NonFiniteOutputError
        If the feature extractor, the energy head's input projection or the
        proposal returns NaN or infinity for any row.
    """

    def __init__(
        self,
        model: EnergyModel,
        inputs: InputBatches | torch.Tensor,
        target_mean: np.ndarray,
        target_scale: np.ndarray,
        grid_bounds: tuple[float, float],
        device: torch.device,
        rows_per_chunk: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.n_threads = n_threads
        with torch.inference_mode(False):  # normal tensors, so that mode() can use autograd
            self.head = copy.deepcopy(model.energy_head).eval().requires_grad_(False)
        self.device = device
        self.target_dim = int(target_mean.shape[0])
        self.n_rows = int(inputs.shape[0])
        self.target_mean = np.array(target_mean, dtype=np.float64)
        self.target_scale = np.array(target_scale, dtype=np.float64)
        self.log_jacobian = float(np.sum(np.log(self.target_scale)))
        self.grid_bounds = (float(grid_bounds[0]), float(grid_bounds[1]))
        self.base_std = float(self.head.base_precision) ** -0.5
        self._grid_embedding: torch.Tensor | None = None
        projections, mixtures = [], []
        with torch.inference_mode():
            for batch in as_batches(inputs).chunks(device, rows_per_chunk):
                features = model.features(batch)
                _check_finite(features, "the feature extractor")
                projection = self.head.project_inputs(features)
                _check_finite(projection, "the energy head (input projection)")
                mixture = model.proposal(features)
                _check_finite(torch.cat([p.flatten(1) for p in mixture], 1), "the proposal")
                projections.append(projection.cpu())
                mixtures.append([p.cpu() for p in mixture])
        self.projections = torch.cat(projections)
        self.mixture = MixtureParameters(*(torch.cat(parts) for parts in zip(*mixtures)))
        with torch.inference_mode():  # the head's per-row parts, decoded once, not per target
            self.decoded = self.head.decode_projection(self.projections)

    # ------------------------------------------------------------ units
    def _to_standard(self, targets: np.ndarray) -> torch.Tensor:
        with np.errstate(over="ignore"):
            standard = (targets - self.target_mean) / self.target_scale
        # Far-away queries would overflow float32 and give NaN energies; clipped,
        # they keep a finite, vanishingly small density.
        standard = np.clip(standard, -_STANDARD_TARGET_LIMIT, _STANDARD_TARGET_LIMIT)
        return torch.as_tensor(standard, dtype=torch.float32, device=self.device)

    def _to_user(self, targets: torch.Tensor) -> np.ndarray:
        return targets.double().cpu().numpy() * self.target_scale + self.target_mean

    def fine_grid(self) -> FineGrid:
        """The 1-D fine grid, in user units, from which quadrature nodes are picked.

        ``2**15 + 1`` evenly spaced points reaching six standard deviations of
        the energy's Gaussian base measure beyond the training targets on both
        sides, so that mass an energy puts outside the training range is
        counted too; the core (the training range plus a margin) is marked.
        """
        low, high = self.grid_bounds
        reach = max(abs(low), abs(high)) + _TAIL_REACH * self.base_std
        step = 2.0 * reach / (_FINE_GRID_SIZE - 1)
        scale, mean = self.target_scale[0], self.target_mean[0]
        core = (int(np.floor((low + reach) / step)), int(np.ceil((high + reach) / step)))
        return FineGrid(start=-reach * scale + mean, step=step * scale,
                        size=_FINE_GRID_SIZE, core=core)

    def _embedded_grid(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised fine-grid targets ``(G, 1)`` and their embeddings ``(G, hidden)``."""
        if self._grid_embedding is None:
            grid = self.fine_grid()
            values = self._to_standard(grid.values(np.arange(grid.size)).reshape(-1, 1))
            with torch.inference_mode():
                self._grid_embedding = (values, self.head.embed_targets(values))
        return self._grid_embedding

    def proposal_components(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """Log weights, means and standard deviations of each row's proposal, user units.

        Returns
        -------
        log_weights : ndarray of shape (r, K)
        means, stds : ndarray of shape (r, K, d)
        """
        index = torch.as_tensor(rows)
        log_weights, means, log_stds = (p[index].double().numpy() for p in self.mixture)
        return log_weights, means * self.target_scale + self.target_mean, \
            np.exp(log_stds) * self.target_scale

    def _mixture_of(self, rows: np.ndarray) -> MixtureParameters:
        index = torch.as_tensor(rows)
        return MixtureParameters(*(p[index].to(self.device) for p in self.mixture))

    # ------------------------------------------------------------ queries
    @threads_from("n_threads")
    def log_unnormalized(
        self, rows: np.ndarray, targets: np.ndarray | None = None, *,
        grid_nodes: np.ndarray | None = None,
    ) -> np.ndarray:
        """log exp f(x, y) in user units (f minus the log-Jacobian of standardisation).

        Every evaluation of f at prediction goes through this method.

        Parameters
        ----------
        rows : ndarray of int, shape (r,)
            Rows of the evaluator; may repeat (one row per (row, point) pair).
        targets : ndarray of shape (r, k, d) or (1, k, d), optional
            Targets in user units; ``(1, k, d)`` is shared by all rows.
        grid_nodes : ndarray of int, shape (r, k), optional
            Instead of ``targets`` (1-D only): indices into :meth:`fine_grid`,
            whose target embeddings are computed once and reused.

        Returns
        -------
        ndarray of shape (r, k), float64

        Raises
        ------
        NonFiniteOutputError
            If the energy head returns NaN or infinity.
        """
        head = self.head
        if grid_nodes is not None:
            grid_values, grid_embedding = self._embedded_grid()
            n_points = grid_nodes.shape[1]
        else:
            n_points = targets.shape[1]
        shared = targets is not None and targets.shape[0] == 1
        out = np.empty((len(rows), n_points))
        size = rows_per_point_chunk(n_points)
        with torch.inference_mode():
            if shared:  # one embedding of the shared targets serves every row
                standard = self._to_standard(targets)
                embedded = head.embed_targets(standard)
            for start in range(0, len(rows), size):
                where = slice(start, start + size)
                if grid_nodes is not None:
                    nodes = torch.as_tensor(grid_nodes[where], device=self.device)
                    standard, embedded = _gather(grid_values, nodes), _gather(grid_embedding, nodes)
                elif not shared:
                    standard = self._to_standard(targets[where])
                    embedded = head.embed_targets(standard)
                chunk = torch.as_tensor(rows[where])
                joint, mixture = self.decoded
                joint = _gather(joint, chunk).to(self.device)
                if mixture is not None:
                    mixture = MixtureParameters(*(_gather(p, chunk).to(self.device)
                                                  for p in mixture))
                energy = head.combine_decoded(joint, mixture, embedded, standard)
                _check_finite(energy, "the energy head")
                out[where] = energy.double().cpu().numpy()
        return out - self.log_jacobian

    @threads_from("n_threads")
    def proposal_draws(
        self, rows: np.ndarray, n_samples: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Quasi-random samples from the proposal with their log densities, in user units.

        Stratified by component: draw m goes to the component whose share of
        the cumulative weights holds ``(m + u) / n_samples`` (one random shift
        u), so each component gets its share of the draws up to one, and the
        draws of a component take the first points, in order, of one scrambled
        Sobol sequence mapped to normals (randomised quasi-Monte Carlo). The
        base points depend on ``seed`` only, not on ``rows``, so any chunking of
        the rows gives identical draws per row (common random numbers).

        Returns
        -------
        targets : ndarray of shape (r, n_samples, d)
        log_q : ndarray of shape (r, n_samples)
        """
        shift, normals = quasi_random_draws(n_samples, self.target_dim, seed)
        uniforms = (torch.arange(n_samples, dtype=torch.float64) + shift) / n_samples
        uniforms = uniforms.float().to(self.device)
        normals = torch.as_tensor(normals, dtype=torch.float32, device=self.device)
        with torch.inference_mode():
            mixture = self._mixture_of(rows)
            # The component of each draw, as samples_from_base_draws chooses it; non-decreasing.
            cumulative = torch.cumsum(torch.exp(mixture.log_weights), dim=-1).contiguous()
            component = torch.searchsorted(
                cumulative, uniforms.expand(len(rows), n_samples).contiguous()
            ).clamp_(max=cumulative.shape[-1] - 1)
            first_of_block = torch.searchsorted(component, component)
            position = torch.arange(n_samples, device=self.device) - first_of_block
            samples = samples_from_base_draws(mixture, uniforms, normals[position])
            log_q = mixture_log_prob(mixture, samples)
        return self._to_user(samples), log_q.double().cpu().numpy() - self.log_jacobian

    @threads_from("n_threads")
    def ascend(self, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Refine targets by gradient ascent on f(x, y): a local mode near each start.

        Each row takes steps ``y <- y + step * grad_y f`` and halves its own step
        whenever a step would lower f.

        Parameters
        ----------
        rows : ndarray of int, shape (r,)
        starts : ndarray of shape (r, d), user units

        Returns
        -------
        ndarray of shape (r, d), user units
        """
        out = np.empty_like(starts)
        head = self.head
        size = rows_per_point_chunk(_MODE_STEPS)
        # Gradients are needed even when the caller runs under torch.inference_mode().
        with torch.inference_mode(False):
            for begin in range(0, len(rows), size):
                where = slice(begin, begin + size)
                chunk = rows[where]
                projected = self.projections[torch.as_tensor(chunk)].to(self.device).clone()
                current = self._to_standard(starts[where]).unsqueeze(1).clone()  # (r, 1, d)
                step = torch.full((len(chunk), 1, 1), 0.1, device=self.device)
                for _ in range(_MODE_STEPS):
                    with torch.enable_grad():
                        probe = current.detach().requires_grad_(True)
                        value = head.score_projected(projected, probe)
                        (gradient,) = torch.autograd.grad(value.sum(), probe)
                    with torch.no_grad():
                        candidate = current + step * gradient
                        better = head.score_projected(projected, candidate) > value.detach()
                        better = better.unsqueeze(-1)
                        current = torch.where(better, candidate, current)
                        step = torch.where(better, step * 1.2, step * 0.5)
                out[where] = self._to_user(current.squeeze(1))
        return out


def quasi_random_draws(n_samples: int, dim: int, seed: int) -> tuple[float, np.ndarray]:
    """A random shift in [0, 1) and scrambled Sobol normals ``(n_samples, dim)``.

    The normals are the first ``n_samples`` points of one scrambled Sobol
    sequence in ``dim`` dimensions (drawn to the next power of two, so that no
    balance is lost to a partial draw) through the inverse normal CDF.
    """
    power = max(0, int(np.ceil(np.log2(n_samples))))
    sobol = qmc.Sobol(dim, scramble=True, seed=int(seed))
    points = sobol.random_base2(power)[:n_samples]
    tiny = np.finfo(np.float32).eps
    shift = float(np.random.default_rng(int(seed)).random())
    return shift, ndtri(np.clip(points, tiny, 1.0 - tiny))


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[index]`` for an integer ``index`` of any shape (``index_select``: faster)."""
    flat = values.index_select(0, index.reshape(-1).to(values.device))
    return flat.view(*index.shape, *values.shape[1:])


def _check_finite(values: torch.Tensor, part: str) -> None:
    """Raise NonFiniteOutputError naming ``part`` if any row of ``values`` is not finite."""
    if bool(torch.isfinite(values).all()):
        return
    finite = torch.isfinite(values.reshape(values.shape[0], -1)).all(dim=1)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise NonFiniteOutputError(
            f"{part} returned NaN or infinity for {bad} of {values.shape[0]} rows at "
            "prediction. Inputs far outside the range seen in fit can overflow the "
            "network; a user feature extractor may misbehave in eval mode."
        )
