#!/usr/bin/env bash
# Release check: build the sdist and, from it, the wheel; install the wheel into a
# fresh virtual environment (the CPU build of torch first, which installs fastest);
# import skebm from it, check its version, py.typed and licence, and run a tiny fit and prediction.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet build
# No flags: the sdist first, then the wheel built from the unpacked sdist, so a
# file missing from the sdist fails here too.
"$work/tools/bin/python" -m build --outdir "$work/dist" . > "$work/build.log" 2>&1 \
    || { cat "$work/build.log"; exit 1; }
ls -l "$work/dist"

"$PYTHON" -m venv "$work/env"
"$work/env/bin/python" -m pip install --quiet torch==2.13.0
"$work/env/bin/python" -m pip install --quiet "$work"/dist/skebm-*.whl

cd "$work"  # away from the checkout, so that only the installed skebm can be imported
"$work/env/bin/python" - <<'PY'
import importlib.metadata
from pathlib import Path

import numpy as np

import skebm
from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm.datasets import make_gustafsson2020

package = Path(skebm.__file__).parent
assert "site-packages" in str(package), f"imported from {package}, not the wheel"
assert skebm.__version__ == importlib.metadata.version("skebm"), "version mismatch"
assert (package / "py.typed").is_file(), "py.typed missing from the wheel"
metadata = importlib.metadata.metadata("skebm")
licence_files = [f for f in importlib.metadata.files("skebm") if "LICENSE" in f.name]
assert licence_files, "LICENSE missing from the wheel"
print("skebm", skebm.__version__, "from", package, "- licence:",
      metadata.get("License") or metadata.get("License-Expression"))

X, y = make_gustafsson2020(n_samples=200, random_state=0)
for model in (EnergyRegressor(max_epochs=2, n_noise_samples=16, random_state=0),
              DistilledMDNRegressor(max_epochs=2, n_noise_samples=16, random_state=0)):
    model.fit(X, y)
    prediction = model.predict(X[:5])
    assert prediction.shape == (5,) and prediction.dtype == np.float64
    low, high = model.predict_dist(X[:5]).interval(0.9)
    assert np.all(low < high)
    print(type(model).__name__, "fitted from the wheel; score", round(model.score(X, y), 3))
PY
echo "wheel check passed"
