"""Model selection on a real dask cluster through joblib's dask backend."""

import joblib
import numpy as np
import pytest
from helpers import TINY
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skebm import EnergyRegressor
from skebm.datasets import make_gustafsson2020
from skebm.metrics import crps_scorer, nll_scorer

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(120)

FAST = dict(TINY, n_inference_samples=64, device="cpu")
SIGMAS = {"sigmas": [(0.05, 0.4), (0.2, 1.6)]}


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on the loopback interface."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    return make_gustafsson2020(n_samples=160, random_state=0)


def test_grid_search_on_a_dask_cluster_matches_a_local_run(client, data):
    X, y = data
    search = GridSearchCV(EnergyRegressor(noise="gaussian", **FAST), SIGMAS, cv=2, n_jobs=-1)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        search.fit(X, y)
    assert len(tasks.data) >= 4  # 2 candidates x 2 folds ran on the workers
    assert {task["worker"] for task in tasks.data} <= set(client.scheduler_info()["workers"])

    local = GridSearchCV(EnergyRegressor(noise="gaussian", **FAST), SIGMAS, cv=2).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-5)
    assert search.best_params_ == local.best_params_


def test_cross_validate_with_skebm_scorers_on_a_dask_cluster(client, data):
    X, y = data
    with joblib.parallel_backend("dask"):
        scores = cross_validate(EnergyRegressor(**FAST), X, y, n_jobs=-1,
                                cv=KFold(2, shuffle=True, random_state=0),
                                scoring={"nll": nll_scorer, "crps": crps_scorer},
                                return_estimator=True)
    assert np.all(np.isfinite(scores["test_nll"])) and np.all(scores["test_crps"] < 0)
    # Fitted models come back from the workers and predict here.
    assert scores["estimator"][0].predict(X[:3]).shape == (3,)
