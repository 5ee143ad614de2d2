"""Predictions over a dask array or DataFrame, one partition at a time.

:func:`predict_partitions` maps a fitted model over the row blocks of a
dask array (or the partitions of a dask DataFrame) lazily: each task predicts
its own rows where it runs, so neither the inputs nor the predictive
distributions of all rows are ever held in one place. Rows are predicted
independently of each other, so the result equals predicting the computed
array in one call (up to float32 rounding of the network).
"""

from __future__ import annotations

import numpy as np

from skebm.pipeline import predict_dist

__all__ = ["predict_partitions"]

_WHAT = ("mean", "mode", "std", "var", "quantile", "interval", "logpdf")


def predict_partitions(model, X, what: str = "mean", *, q: float | None = None,
                       confidence: float | None = None, y=None):
    """A fitted model's predictions over the partitions of a dask collection.

    Parameters
    ----------
    model : fitted skebm estimator or Pipeline ending in one
        Sent to every task with the graph.
    X : dask array or dask DataFrame
        Inputs; a dask array may be chunked along its rows only (a table
        ``(n, p)`` or images ``(n, H, W[, C])``).
    what : {"mean", "mode", "std", "var", "quantile", "interval", "logpdf"}, default="mean"
        ``"mean"`` is ``model.predict``; the others are the methods of
        ``model.predict_dist`` (``skebm.pipeline.predict_dist`` for a Pipeline).
    q : float, optional
        Probability of ``"quantile"``.
    confidence : float, optional
        Coverage of ``"interval"``.
    y : dask array or dask Series, optional
        Targets of ``"logpdf"``, partitioned like ``X`` (a dask array is
        rechunked to ``X``'s row chunks).

    Returns
    -------
    dask array or dask Series / DataFrame
        Lazy; ``(n,)`` values (a Series for a DataFrame), or for
        ``"interval"`` ``(n, 2)`` lower and upper ends (a DataFrame with
        columns ``"lower"`` and ``"upper"``). Compute it with ``.compute()``.
        For models of 1-D targets.

    Raises
    ------
    ValueError
        If ``what`` is unknown, its argument (``q``, ``confidence``, ``y``) is
        missing, or ``X`` is chunked along a column axis.
    TypeError
        If ``X`` is not a dask array or DataFrame.

    Examples
    --------
    >>> import dask.array as da
    >>> from skebm import EnergyRegressor
    >>> from skebm.dask import predict_partitions
    >>> from skebm.datasets import make_gustafsson2020
    >>> X, y = make_gustafsson2020(n_samples=200, random_state=0)
    >>> model = EnergyRegressor(max_epochs=1, random_state=0).fit(X, y)
    >>> lazy = predict_partitions(model, da.from_array(X, chunks=(50, 1)), "quantile", q=0.9)
    >>> lazy.compute().shape
    (200,)
    """
    if what not in _WHAT:
        raise ValueError(f"what must be one of {', '.join(map(repr, _WHAT))}; got {what!r}.")
    for needed, name, value in (("quantile", "q", q), ("interval", "confidence", confidence),
                                ("logpdf", "y", y)):
        if what == needed and value is None:
            raise ValueError(f"what={what!r} needs {name}=....")
    block = _Block(model, what, q, confidence)
    if hasattr(X, "map_partitions"):
        return _over_dataframe(block, X, y)
    if not hasattr(X, "map_blocks") or not hasattr(X, "chunks"):
        raise TypeError(f"X must be a dask array or DataFrame, got {type(X).__name__}; "
                        "use the model's own methods for in-memory data.")
    return _over_array(block, X, y)


class _Block:
    """What one task computes for its rows: a picklable callable."""

    def __init__(self, model, what: str, q, confidence) -> None:
        self.model, self.what, self.q, self.confidence = model, what, q, confidence

    def __call__(self, X, y=None) -> np.ndarray:
        if len(X) == 0:
            return np.empty((0, 2) if self.what == "interval" else (0,))
        if self.what == "mean":
            return np.asarray(self.model.predict(X), dtype=np.float64)
        dist = predict_dist(self.model, X)
        if self.what == "quantile":
            return dist.ppf(self.q)
        if self.what == "interval":
            return np.stack(dist.interval(self.confidence), axis=1)
        if self.what == "logpdf":  # a dask array's block of y carries X's extra axes
            return dist.logpdf(np.asarray(y, dtype=np.float64).reshape(len(X)))
        return getattr(dist, self.what)()


def _over_array(block: _Block, X, y):
    if any(len(chunks) > 1 for chunks in X.chunks[1:]):
        raise ValueError(f"X is chunked along a column axis (chunks {X.chunks}); chunk it "
                         "along the rows only, e.g. X.rechunk({1: -1}).")
    drop = tuple(range(1, X.ndim))
    if block.what == "interval":
        return X.map_blocks(block, dtype=np.float64, chunks=(X.chunks[0], (2,)),
                            drop_axis=drop[1:])
    if block.what == "logpdf":
        import dask.array as da

        y = da.asarray(y).rechunk({0: X.chunks[0]})
        y = y[(slice(None),) + (None,) * len(drop)]  # aligned with X's rows, not its last axis
        return da.map_blocks(block, X, y, dtype=np.float64, chunks=(X.chunks[0],),
                             drop_axis=drop)
    return X.map_blocks(block, dtype=np.float64, chunks=(X.chunks[0],), drop_axis=drop)


def _over_dataframe(block: _Block, X, y):
    import pandas as pd

    if block.what == "interval":
        def frame(part):
            return pd.DataFrame(block(part), index=part.index, columns=["lower", "upper"])

        return X.map_partitions(frame, meta=pd.DataFrame({"lower": [], "upper": []},
                                                        dtype=np.float64))

    def series(part, targets=None):
        return pd.Series(block(part, targets), index=part.index, name=block.what)

    meta = pd.Series([], dtype=np.float64, name=block.what)
    if block.what == "logpdf":
        return X.map_partitions(series, y, meta=meta)
    return X.map_partitions(series, meta=meta)
