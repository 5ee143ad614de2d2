"""Write the reference model files of the current format that tests/test_persistence.py loads.

Run from the repository root when the format version changes, to add the
files of the new version (keep the old ones: they are what older skebm
versions wrote)::

    python tests/data/make_model_files.py

It prints the predictions each file must give, to be pasted into
``REFERENCE_PREDICTIONS`` of the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import skebm
from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm._migrations import FORMAT_VERSION
from skebm.calibration import RecalibratedRegressor

FOLDER = Path(__file__).resolve().parent
TINY_NETWORK = dict(hidden_size=4, n_components=2, n_noise_samples=8, max_epochs=40,
                    feature_extractor_kwargs={"hidden_sizes": (8,)}, random_state=0,
                    device="cpu")


def reference_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training inputs and targets, and the inputs the stored predictions are for."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2.0, 2.0, size=(80, 2))
    y = X[:, 0] + 0.3 * rng.normal(size=80)
    return X, y, np.linspace(-1.5, 1.5, 8).reshape(4, 2)


def reference_models() -> dict[str, object]:
    """The models saved, by file name: a plain model and a recalibrated mixture of two fits."""
    return {
        f"energy_format{FORMAT_VERSION}.skebm": EnergyRegressor(
            **TINY_NETWORK, input_bins=3, n_inference_samples=16),
        f"recalibrated_format{FORMAT_VERSION}.skebm": RecalibratedRegressor(
            DistilledMDNRegressor(**TINY_NETWORK, keep_teacher=False), cv=2, n_fits=2),
    }


def main() -> None:
    X, y, X_new = reference_data()
    for name, model in reference_models().items():
        model.fit(X, y)
        skebm.save(model, FOLDER / name)
        size = (FOLDER / name).stat().st_size
        print(f"{name} ({size} bytes): {model.predict(X_new).tolist()!r}")


if __name__ == "__main__":
    main()
