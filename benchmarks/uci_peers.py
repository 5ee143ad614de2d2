"""The peers of ``benchmarks/uci.py``: NGBoost, CatBoost and PGBM at their defaults.

Each peer predicts a Normal per test row; :func:`run_peer` fits it on the
training split and returns its ``loc``, ``scale`` and fit time, or ``None``
(with a printed reason, once) when the peer is not installed.

* ``catboost``: ``CatBoostRegressor(loss_function="RMSEWithUncertainty")``,
  whose ``predict`` gives the mean and the data-uncertainty variance of each
  row; ``thread_count`` is the benchmark's ``--threads``.
* ``pgbm``: PGBM's PyTorch backend (``pgbm.torch.PGBM``) with the parameters of
  ``PGBMRegressor()`` and its squared-error objective; the predictive
  distribution is its default Normal with the learned mean and variance
  (``predict_dist(..., output_sample_statistics=True)``). The backend is
  driven directly because ``PGBMRegressor.fit`` passes ``force_all_finite``,
  which scikit-learn 1.8 removed, and ``pgbm.sklearn`` is compiled against
  NumPy 1. PGBM compiles a small C++ extension on first import (needs a C++
  compiler and ninja).
* ``ngboost``: ``NGBRegressor()``. NGBoost 0.6 needs scikit-learn < 1.7, so it
  runs in its own virtual environment, ``.venv-ngboost`` in the repository root
  (created with ``pip install ngboost`` on first use), one subprocess per
  split, behind a ``StandardScaler``.

CatBoost and PGBM install beside skebm: ``pip install -e ".[peers]"``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NGBOOST_VENV = ROOT / ".venv-ngboost"
PEERS = ("ngboost", "catboost", "pgbm")
_UNAVAILABLE: dict[str, str] = {}


def ngboost_python() -> Path | None:
    """The python of ``.venv-ngboost``, created on first use; ``None`` if that fails."""
    python = NGBOOST_VENV / "bin" / "python"
    check = [str(python), "-c", "import ngboost"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {NGBOOST_VENV} with `pip install ngboost` ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(NGBOOST_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "ngboost"], check=True)
    except (subprocess.CalledProcessError, OSError):
        return None
    return python if subprocess.run(check, capture_output=True).returncode == 0 else None


def _fit_ngboost(X_train, y_train, X_test, seed, threads):
    python = ngboost_python()
    if python is None:
        raise ImportError(f"NGBoost could not be installed in {NGBOOST_VENV}")
    with tempfile.TemporaryDirectory() as folder:
        inputs, outputs = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(inputs, X_train=X_train, y_train=y_train, X_test=X_test, seed=seed)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
        subprocess.run([str(python), __file__, "--ngboost-worker", str(inputs), str(outputs)],
                       check=True, env=env)
        out = np.load(outputs)
        return out["loc"], out["scale"], float(out["fit_s"])


def ngboost_worker(inputs: str, outputs: str) -> None:
    """Runs under ``.venv-ngboost``: fit NGBoost with its defaults, save loc and scale."""
    from ngboost import NGBRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = np.load(inputs)
    model = make_pipeline(StandardScaler(),
                          NGBRegressor(random_state=int(data["seed"]), verbose=False))
    start = time.perf_counter()
    model.fit(data["X_train"], data["y_train"])
    fit_s = time.perf_counter() - start
    params = model[-1].pred_dist(model[0].transform(data["X_test"])).params
    np.savez(outputs, loc=params["loc"], scale=params["scale"], fit_s=fit_s)


def _fit_catboost(X_train, y_train, X_test, seed, threads):
    from catboost import CatBoostRegressor

    model = CatBoostRegressor(loss_function="RMSEWithUncertainty", random_seed=seed,
                              thread_count=threads, verbose=False, allow_writing_files=False)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    mean_variance = model.predict(X_test)  # (n, 2): mean, variance
    return mean_variance[:, 0], np.sqrt(mean_variance[:, 1]), fit_s


def _fit_pgbm(X_train, y_train, X_test, seed, threads):
    import torch
    from pgbm.torch import PGBM, PGBMRegressor

    def squared_error(yhat, y, sample_weight=None):
        return yhat - y, torch.ones_like(yhat)

    def rmse(yhat, y, sample_weight=None):
        return torch.sqrt(torch.mean(torch.square(yhat - y)))

    defaults = PGBMRegressor().get_params()
    names = ("min_split_gain", "min_data_in_leaf", "max_leaves", "max_bin", "learning_rate",
             "n_estimators", "feature_fraction", "bagging_fraction", "reg_lambda",
             "device", "derivatives", "distribution", "monotone_iterations", "checkpoint")
    params = {name: defaults[name] for name in names}
    params.update(seed=seed, verbose=0)
    data = (X_train.astype(np.float32), y_train.astype(np.float32))
    model = PGBM()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # "Training on CPU"
        model.train(data, objective=squared_error, metric=rmse, params=params)
    fit_s = time.perf_counter() - start
    _, loc, variance = model.predict_dist(X_test.astype(np.float32),
                                          output_sample_statistics=True)
    loc, variance = (t.detach().cpu().double().numpy() for t in (loc, variance))
    return loc, np.sqrt(np.clip(variance, 1e-18, None)), fit_s


_FITS = {"ngboost": _fit_ngboost, "catboost": _fit_catboost, "pgbm": _fit_pgbm}


def run_peer(name: str, X_train, y_train, X_test, seed: int, threads: int):
    """``(loc, scale, fit_s)`` of the peer's Normal predictions, or ``None`` when absent."""
    if name in _UNAVAILABLE:
        return None
    try:
        return _FITS[name](X_train, y_train, X_test, seed, threads)
    except ImportError as error:
        _UNAVAILABLE[name] = str(error)
        print(f"skipping {name}: not available ({error}); install it with "
              f"`pip install -e \".[peers]\"`" if name != "ngboost" else
              f"skipping {name}: not available ({error})", flush=True)
        return None


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--ngboost-worker":
        ngboost_worker(sys.argv[2], sys.argv[3])
