"""The equal-weight mixture of several batches of 1-D distributions (the recalibrated folds)."""

from __future__ import annotations

import numpy as np

from skebm.distributions import ConditionalDistribution
from skebm.distributions._quantile_space import highest_density, quantile_nodes
from skebm.distributions._roots import invert_cdf

__all__ = ["EqualMixtureDistribution"]


class EqualMixtureDistribution(ConditionalDistribution):
    """The equal-weight mixture ``(1/K) sum_k P_k`` of ``K`` batches of 1-D distributions.

    Returned by :meth:`RecalibratedRegressor.predict_dist` with
    ``ensemble=True``, where ``P_k`` is the ``k``-th fold model's distribution
    recalibrated by that fold's own map, so that
    ``cdf(y) = mean_k R_k(F_k(y))`` and
    ``pdf(y) = mean_k R_k'(F_k(y)) f_k(y)``. Everything is exact given the
    members:

    * ``cdf`` and ``logpdf`` average the members' CDFs and densities;
    * ``ppf`` solves ``cdf(y) = p`` between the smallest and largest member
      quantile, which bracket the answer: the bracket is first narrowed on a
      grid of 65 points, then refined by regula falsi (Illinois) until
      ``|cdf(y) - p| <= 1e-10`` or it is narrower than 1e-12 of its ends;
    * ``mean`` and ``var`` follow from the members' by the law of total
      variance;
    * ``sample`` turns each uniform number ``U`` into a member ``floor(K U)``
      and that member's quantile at ``K U - floor(K U)``, exactly a draw
      of the mixture;
    * ``mode`` is the highest point of the averaged density, searched among
      the members' modes and quantiles (see :meth:`mode`).

    Parameters
    ----------
    members : sequence of ConditionalDistribution
        ``K >= 1`` batches of the same number of rows, each with a 1-D target.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.calibration import EqualMixtureDistribution
    >>> from skebm.distributions import GaussianMixtureDistribution
    >>> def normal(mean):
    ...     return GaussianMixtureDistribution(np.zeros((1, 1)), np.full((1, 1, 1), mean),
    ...                                        np.ones((1, 1, 1)))
    >>> mixture = EqualMixtureDistribution([normal(-1.0), normal(1.0)])
    >>> mixture.cdf([0.0]), mixture.mean(), mixture.var()
    (array([0.5]), array([0.]), array([2.]))
    >>> abs(mixture.ppf(0.5)) < 1e-6
    array([ True])
    """

    def __init__(self, members) -> None:
        members = list(members)
        if not members:
            raise ValueError("An EqualMixtureDistribution needs at least one member.")
        for member in members:
            if not isinstance(member, ConditionalDistribution):
                raise TypeError(f"members must be ConditionalDistributions, got "
                                f"{type(member).__name__}.")
            if member.target_dim != 1:
                raise ValueError("Only distributions of 1-D targets can be mixed here.")
            if member.n_rows != members[0].n_rows:
                raise ValueError("Every member must hold the same number of rows.")
        super().__init__(members[0].n_rows, 1)
        self.members = members

    def _take(self, rows: np.ndarray) -> EqualMixtureDistribution:
        return EqualMixtureDistribution([member._take(rows) for member in self.members])

    def _cdf_points(self, points: np.ndarray) -> np.ndarray:
        return np.mean([np.clip(m._cdf_points(points), 0.0, 1.0) for m in self.members], axis=0)

    def _logpdf_points(self, points: np.ndarray) -> np.ndarray:
        log_densities = np.array([member._logpdf_points(points) for member in self.members])
        top = np.max(log_densities, axis=0)
        top[~np.isfinite(top)] = 0.0
        with np.errstate(divide="ignore"):
            return top + np.log(np.mean(np.exp(log_densities - top), axis=0))

    def mean(self) -> np.ndarray:
        """Mean of each mixture: the average of the members' means.

        Returns
        -------
        ndarray of shape (n,)
            One mean per row.
        """
        return np.mean([member.mean() for member in self.members], axis=0)

    def var(self) -> np.ndarray:
        """Variance of each mixture, by the law of total variance.

        Returns
        -------
        ndarray of shape (n,)
            One variance per row.
        """
        means = np.array([member.mean() for member in self.members])
        variances = np.array([member.var() for member in self.members])
        return np.mean(variances, axis=0) + np.var(means, axis=0)

    def _sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        scaled = len(self.members) * self._row_uniforms(rng, n_samples)
        chosen = np.minimum(np.floor(scaled).astype(np.intp), len(self.members) - 1)
        within = np.clip(scaled - chosen, np.finfo(np.float64).tiny, np.nextafter(1.0, 0.0))
        out = np.empty((self.n_rows, n_samples))
        for k, member in enumerate(self.members):
            mine = chosen == k
            if mine.any():  # the other members' levels are placeholders, discarded
                out[mine] = member._quantiles(np.where(mine, within, 0.5))[mine]
        return out[:, :, None]

    def mode(self) -> np.ndarray:
        """Most likely point of each mixture: the highest point of the averaged density.

        Searched among the members' modes (where they have one) and the
        quantiles of each member's quantile-space rule (about 550 per member
        and row, dense where its mass is), then refined by golden-section
        search between the best candidate's neighbours.

        Returns
        -------
        ndarray of shape (n,)
            One mode per row.
        """
        candidates = [quantile_nodes(member)[2] for member in self.members]
        for member in self.members:
            member_mode = getattr(member, "mode", None)
            if callable(member_mode) and self.n_rows:
                candidates.append(np.reshape(member_mode(), (-1, 1)))
        return highest_density(self, np.concatenate(candidates, axis=1))

    def _quantiles(self, probabilities: np.ndarray) -> np.ndarray:
        if probabilities.size == 0:
            return np.empty(probabilities.shape)
        ends = np.stack([probabilities.min(axis=1), probabilities.max(axis=1)], axis=1)
        member_ends = np.array([member._quantiles(ends) for member in self.members])

        def cdf(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
            return self._take(rows)._cdf_points(values[:, :, None])

        return invert_cdf(cdf, probabilities, member_ends[:, :, 0].min(axis=0),
                          member_ends[:, :, 1].max(axis=0))

    def _ppf(self, probabilities: np.ndarray) -> np.ndarray:
        member_quantiles = np.array([member._ppf(probabilities)[:, 0] for member in self.members])

        def cdf(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
            return self._take(rows)._cdf_points(values[:, :, None])

        return invert_cdf(cdf, probabilities, member_quantiles.min(axis=0),
                          member_quantiles.max(axis=0))[:, None]
