"""A fit on every rank of a ``torch.distributed`` group, for ``tests/test_distributed.py``.

Run as ``torchrun --nproc-per-node=2 tests/distributed_fit.py OUT MODE``: each
rank fits the settings of :data:`SETTINGS` on :func:`data` and writes what it
holds to ``OUT/rank<r>.npz``; with ``MODE`` ``"nan"`` rank 1 passes a NaN and
each rank writes the error it raised to ``OUT/rank<r>.txt`` instead.
"""

import sys
from pathlib import Path

import numpy as np

SETTINGS = dict(max_epochs=3, n_noise_samples=16, hidden_size=8, batch_size=32,
                early_stopping=True, n_iter_no_change=2, random_state=0)


def data():
    """Inputs and targets each rank passes to ``fit``."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(160, 2))
    return X, X[:, 0] + (0.2 + 0.2 * np.abs(X[:, 1])) * rng.normal(size=160)


def main(out: Path, mode: str) -> None:
    import torch
    import torch.distributed as dist

    from skebm import EnergyRegressor

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    X, y = data()
    if mode == "nan" and rank == 1:
        X[3, 0] = np.nan
    try:
        model = EnergyRegressor(**SETTINGS).fit(X, y)
    except ValueError as error:
        (out / f"rank{rank}.txt").write_text(str(error))
        return
    finally:
        dist.destroy_process_group()
    parameters = torch.cat([p.detach().reshape(-1) for p in model.module_.state_dict().values()])
    np.savez(out / f"rank{rank}.npz", parameters=parameters.numpy(), predictions=model.predict(X),
             world_size=model.world_size_, n_iter=model.n_iter_,
             first_epoch=[model.history_[0][name] for name in sorted(model.history_[0])],
             scores=[record.get("validation_score", np.nan) for record in model.history_])


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
