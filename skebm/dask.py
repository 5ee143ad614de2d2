"""Predictions over a dask array or DataFrame, one partition at a time.

:func:`predict_partitions` maps a fitted model over the row blocks of a
dask array (or the partitions of a dask DataFrame) lazily: each task predicts
its own rows where it runs, so neither the inputs nor the predictive
distributions of all rows are ever held in one place. Rows are predicted
independently of each other, so the result equals predicting the computed
array in one call (up to float32 rounding of the network).
"""

from __future__ import annotations

import warnings

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
    y : dask array, dask Series or DataFrame, optional
        Targets of ``"logpdf"``, ``(n,)`` or ``(n, d)``, partitioned like
        ``X`` (a dask array is rechunked to ``X``'s row chunks).

    Returns
    -------
    dask array or dask Series / DataFrame
        Lazy; compute it with ``.compute()``. Each block is what the
        in-memory call returns for its rows: for ``d``-dimensional targets,
        ``"mode"``, ``"std"``, ``"var"`` and ``"quantile"`` give ``(n,)``
        values when ``d == 1`` and ``(n, d)`` otherwise, ``"mean"`` gives the
        shape of ``model.predict`` (``(n, 1)`` for a model fitted on a column
        vector), ``"interval"`` gives ``(n, 2)`` lower and upper ends, or
        ``(n, d, 2)``, and ``"logpdf"`` gives ``(n,)``. A DataFrame ``X``
        gives a Series of ``(n,)`` values, else a DataFrame: columns
        ``"lower"`` and ``"upper"`` (``"lower_j"``, ``"upper_j"`` for target
        ``j``) for ``"interval"``, the target indices otherwise. To learn
        these shapes, the first row of ``X`` is computed and predicted once
        when the graph is built.

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
        self.row_shape: tuple[int, ...] = (2,) if what == "interval" else ()

    def __call__(self, X, y=None) -> np.ndarray:
        if len(X) == 0:
            return np.empty((0, *self.row_shape))
        if self.what == "mean":
            return np.asarray(self.model.predict(X), dtype=np.float64)
        dist = predict_dist(self.model, X)
        if self.what == "quantile":
            return dist.ppf(self.q)
        if self.what == "interval":  # (n, 2), or (n, d, 2) for d-dimensional targets
            return np.stack(dist.interval(self.confidence), axis=-1)
        if self.what == "logpdf":  # one target row per input row: (n,) or (n, d)
            targets = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
            return dist.logpdf(targets[:, 0] if targets.shape[1] == 1 else targets)
        return getattr(dist, self.what)()

    def learn_row_shape(self, first_rows) -> None:
        """Record the shape of one row's result, from the result for ``first_rows``.

        The target dimension (and for ``"mean"``, whether ``y`` in ``fit`` was
        a column vector) decide it; a log density is one number per row.
        """
        if self.what != "logpdf" and len(first_rows):
            self.row_shape = tuple(self(first_rows).shape[1:])


def _over_array(block: _Block, X, y):
    import dask.array as da

    if any(len(chunks) > 1 for chunks in X.chunks[1:]):
        raise ValueError(f"X is chunked along a column axis (chunks {X.chunks}); chunk it "
                         "along the rows only, e.g. X.rechunk({1: -1}).")
    block.learn_row_shape(np.asarray(X[:1].compute()))
    inputs = "r" + "abcdefgh"[:X.ndim - 1]  # rows, then axes that each task sees whole
    outputs = "r" + "stuv"[:len(block.row_shape)]
    arguments = [X, inputs]
    if block.what == "logpdf":
        y = da.asarray(y)
        y = y.reshape(len(y), -1).rechunk({0: X.chunks[0], 1: -1})
        arguments += [y, "rz"]
    return da.blockwise(block, outputs, *arguments, dtype=np.float64, concatenate=True,
                        new_axes=dict(zip(outputs[1:], block.row_shape)),
                        meta=np.empty((0,) * len(outputs)))


def _over_dataframe(block: _Block, X, y):
    import pandas as pd

    with warnings.catch_warnings():  # a first partition without rows: the 1-D shapes
        warnings.simplefilter("ignore", UserWarning)
        block.learn_row_shape(X.head(1, npartitions=1))

    def frame(part, targets=None):
        values = block(part, targets)
        if values.ndim == 1:
            return pd.Series(values, index=part.index, name=block.what)
        return pd.DataFrame(values.reshape(len(values), -1), index=part.index,
                            columns=_columns(block))

    meta = (pd.Series([], dtype=np.float64, name=block.what) if not block.row_shape
            else pd.DataFrame({name: [] for name in _columns(block)}, dtype=np.float64))
    if block.what == "logpdf":
        return X.map_partitions(frame, y, meta=meta)
    return X.map_partitions(frame, meta=meta)


def _columns(block: _Block) -> list:
    """Columns of a DataFrame result: ``"lower"``/``"upper"`` (per target), or target indices."""
    if block.what != "interval":
        return list(range(int(np.prod(block.row_shape))))
    if block.row_shape == (2,):
        return ["lower", "upper"]
    return [f"{end}_{target}" for target in range(block.row_shape[0])
            for end in ("lower", "upper")]
