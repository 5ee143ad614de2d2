"""The share of the proposal in the predictive density, chosen on held-out rows.

A fitted :class:`~skebm.EnergyRegressor` holds two conditional densities: the
energy-based ``p`` and the proposal ``q``, the mixture density network
trained with it. Which predicts better depends on the data (``q`` can win on
few rows with near-Gaussian noise, ``p`` wherever the noise has shape), and
so does the best mixture ``(1 - a) p + a q``. Choosing ``a`` to maximise the
log-likelihood of held-out rows is stacking of predictive distributions
(Yao, Vehtari, Simpson and Gelman, Bayesian Analysis 2018) with two members.
The objective is concave in ``a``, so the maximiser is unique and found by
bisection on the derivative. A weight fitted to a few hundred held-out rows
chases their noise where the two densities are about equally good, so the
maximiser is used only when its held-out gain over the energy alone exceeds
one standard error of the per-row gains (the rule early stopping uses to
restore an earlier check); otherwise the weight is 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["stacking_weight"]

_BISECTION_STEPS = 60


def stacking_weight(log_p: np.ndarray, log_q: np.ndarray, log_background: np.ndarray,
                    background_weight: float, sample_weight: np.ndarray | None = None) -> float:
    """The weight ``a`` in [0, 1] that gives held-out rows the highest mean log-likelihood.

    The likelihood of a row is that of the predictive density,
    ``(1 - ε) ((1 - a) p + a q) + ε b``, with the defensive background ``b``
    of weight ``ε`` included, so that a held-out row both members deem
    impossible (which the background covers) does not decide the weight.
    The maximiser is returned only if the mean gain in log-likelihood it
    brings over ``a = 0`` exceeds one standard error of the rows' gains;
    otherwise 0.

    Parameters
    ----------
    log_p, log_q, log_background : ndarray of shape (n,)
        Log densities of the held-out targets under the energy-based model,
        the proposal and the background; ``-inf`` allowed where a density is 0.
    background_weight : float
        The background's weight ε in [0, 1).
    sample_weight : ndarray of shape (n,), optional
        Positive weights of the rows: the means above are then weighted
        means, and the standard error uses Kish's effective number of rows
        ``(sum w)^2 / sum w^2``.

    Returns
    -------
    float
        The maximising weight, or 0 when its gain is within one standard
        error of none (or ``p`` is at least as good everywhere).
    """
    terms = np.stack([log_p, log_q] + ([log_background] if background_weight > 0 else []),
                     axis=1)
    top = np.max(terms, axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    p, q = np.exp(terms[:, :2] - top).T  # each row scaled by its largest density
    b = np.exp(np.asarray(log_background) - top[:, 0]) if background_weight > 0 else 0.0
    # Where the mixture's density is 0 (a member's share 0, the other's underflowing),
    # the log-likelihood is -inf and moving towards the member with density wins.
    towards = np.where(q > p, np.inf, np.where(q < p, -np.inf, 0.0))

    def mixed(weight: float) -> np.ndarray:
        """Each row's predictive density at this weight, in the row's scaling."""
        return (1.0 - background_weight) * ((1.0 - weight) * p + weight * q) \
            + background_weight * b

    def slope(weight: float) -> float:
        """The derivative of the mean log-likelihood, up to a positive factor."""
        density = mixed(weight)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(density > 0.0, (q - p) / density, towards)
        return float(np.average(share, weights=sample_weight))

    if slope(0.0) <= 0.0:
        return 0.0
    if slope(1.0) >= 0.0:
        best = 1.0
    else:
        low, high = 0.0, 1.0
        for _ in range(_BISECTION_STEPS):
            middle = 0.5 * (low + high)
            if slope(middle) > 0.0:
                low = middle
            else:
                high = middle
        best = 0.5 * (low + high)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = np.log(mixed(best)) - np.log(mixed(0.0))
    counted = ~np.isnan(gains)  # rows no weight gives any density
    gains = gains[counted]
    if np.any(np.isposinf(gains)):  # rows the energy alone deems impossible
        return best
    if len(gains) < 2:
        return 0.0
    if sample_weight is None:
        mean_gain = np.mean(gains)
        standard_error = np.std(gains, ddof=1) / np.sqrt(len(gains))
    else:
        mean_gain, standard_error = _weighted_mean_and_error(gains, sample_weight[counted])
    return best if mean_gain > standard_error else 0.0


def _weighted_mean_and_error(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted mean of ``values`` and its standard error, with Kish's effective count."""
    mean = np.average(values, weights=weights)
    effective = np.sum(weights) ** 2 / np.sum(np.square(weights))
    if effective <= 1.0:
        return float(mean), np.inf
    variance = np.average(np.square(values - mean), weights=weights) * effective / (effective - 1)
    return float(mean), float(np.sqrt(variance / effective))
