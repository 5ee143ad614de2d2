"""Model selection on a real dask cluster through joblib's dask backend."""

import joblib
import numpy as np
import pytest
from helpers import TINY, linear_data
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


# ====================================================================== prediction by partition
@pytest.fixture(scope="module")
def thread_client():
    """One single-threaded worker in this process."""
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return EnergyRegressor(**FAST).fit(X, y)


@pytest.mark.parametrize(("what", "kwargs", "expected"), [
    ("mean", {}, lambda m, X, y: m.predict(X)),
    ("std", {}, lambda m, X, y: m.predict_dist(X).std()),
    ("quantile", {"q": 0.9}, lambda m, X, y: m.predict_dist(X).ppf(0.9)),
    ("interval", {"confidence": 0.8},
     lambda m, X, y: np.stack(m.predict_dist(X).interval(0.8), axis=1)),
    ("logpdf", {}, lambda m, X, y: m.predict_dist(X).logpdf(y)),
])
def test_predict_partitions_of_a_dask_array_match_one_call(thread_client, fitted, data, what,
                                                           kwargs, expected):
    import dask.array as da

    from skebm.dask import predict_partitions

    X, y = data
    if what == "logpdf":
        kwargs = {"y": da.from_array(y, chunks=70)}  # rechunked to X's rows
    lazy = predict_partitions(fitted, da.from_array(X, chunks=(50, 1)), what, **kwargs)
    assert lazy.chunks[0] == (50, 50, 50, 10)
    np.testing.assert_allclose(lazy.compute(), expected(fitted, X, y), rtol=1e-5, atol=1e-6)


def test_predict_partitions_of_a_dask_dataframe_keep_the_index(thread_client, fitted, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    from skebm.dask import predict_partitions

    X, _ = data
    frame = pd.DataFrame(X, columns=["x"], index=np.arange(len(X)) * 3)
    lazy = predict_partitions(fitted, dd.from_pandas(frame, npartitions=3), "interval",
                              confidence=0.5)
    result = lazy.compute()
    assert list(result.columns) == ["lower", "upper"] and (result.index == frame.index).all()
    np.testing.assert_allclose(result.to_numpy(),
                               np.stack(fitted.predict_dist(X).interval(0.5), axis=1), rtol=1e-5)


def test_predict_partitions_refuses_what_it_cannot_do(fitted, data):
    import dask.array as da

    from skebm.dask import predict_partitions

    X, _ = data
    with pytest.raises(ValueError, match="what must be one of"):
        predict_partitions(fitted, da.from_array(X), "median")
    with pytest.raises(ValueError, match="needs q"):
        predict_partitions(fitted, da.from_array(X), "quantile")
    with pytest.raises(TypeError, match="dask array or DataFrame"):
        predict_partitions(fitted, X)


@pytest.fixture(scope="module")
def target_models(data):
    """Models of a column-vector y and of 2-D targets, with their inputs and targets."""
    X, y = data
    X2, Y2 = linear_data(n=120, n_targets=2)
    return {"column": (EnergyRegressor(**FAST).fit(X, y[:, None]), X, y[:, None]),
            "2-D": (EnergyRegressor(**FAST).fit(X2, Y2), X2, Y2)}


IN_MEMORY = {
    "mean": lambda m, X, y: m.predict(X),
    "mode": lambda m, X, y: m.predict_dist(X).mode(),
    "std": lambda m, X, y: m.predict_dist(X).std(),
    "var": lambda m, X, y: m.predict_dist(X).var(),
    "quantile": lambda m, X, y: m.predict_dist(X).ppf(0.9),
    "interval": lambda m, X, y: np.stack(m.predict_dist(X).interval(0.8), axis=-1),
    "logpdf": lambda m, X, y: m.predict_dist(X).logpdf(y if y.shape[1] > 1 else y[:, 0]),
}


@pytest.mark.parametrize("targets", ["column", "2-D"])
@pytest.mark.parametrize("what", list(IN_MEMORY))
def test_predict_partitions_declare_the_shapes_of_column_and_multi_dimensional_targets(
        thread_client, target_models, targets, what):
    import dask.array as da

    from skebm.dask import predict_partitions

    model, X, y = target_models[targets]
    kwargs = {"mean": {}, "quantile": {"q": 0.9}, "interval": {"confidence": 0.8},
              "logpdf": {"y": da.from_array(y, chunks=(70, -1))}}.get(what, {})
    lazy = predict_partitions(model, da.from_array(X, chunks=(50, -1)), what, **kwargs)
    expected = IN_MEMORY[what](model, X, y)
    assert lazy.shape == expected.shape  # declared up front: (n, 1), (n, 2) or (n, 2, 2)
    computed = lazy.compute()
    assert computed.shape == expected.shape
    np.testing.assert_allclose(computed, expected, rtol=1e-5, atol=1e-6)


def test_predict_partitions_of_a_dask_dataframe_name_the_columns_of_2d_targets(
        thread_client, target_models):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    from skebm.dask import predict_partitions

    model, X, _ = target_models["2-D"]
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b"]), npartitions=3)
    interval = predict_partitions(model, frame, "interval", confidence=0.5).compute()
    assert list(interval.columns) == ["lower_0", "upper_0", "lower_1", "upper_1"]
    lower, upper = model.predict_dist(X).interval(0.5)
    np.testing.assert_allclose(interval[["lower_1", "upper_1"]].to_numpy(),
                               np.stack([lower[:, 1], upper[:, 1]], axis=1), rtol=1e-5)
    mean = predict_partitions(model, frame, "mean").compute()
    np.testing.assert_allclose(mean.to_numpy(), model.predict(X), rtol=1e-5)
