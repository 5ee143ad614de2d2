"""The estimators' docstrings, assembled from shared entries, document every parameter once."""

import inspect
import re

import pytest

from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm._docs import SHARED_ENTRIES, fill_shared_docs


def documented(docstring, section):
    """Names of the numpydoc entries of a section (lines ``name : type`` at 4 spaces)."""
    body = docstring.split(f"\n    {section}\n    {'-' * len(section)}\n")[1]
    body = re.split(r"\n    \w[\w ]*\n    -+\n", body)[0]
    return re.findall(r"^    (\w+) : ", body, flags=re.MULTILINE)


@pytest.mark.parametrize("estimator", [EnergyRegressor, DistilledMDNRegressor])
def test_every_parameter_is_documented_once_in_signature_order(estimator):
    assert documented(estimator.__doc__, "Parameters") == list(
        inspect.signature(estimator).parameters)
    assert "{" + "hidden_size}" not in estimator.__doc__


def test_shared_entries_appear_word_for_word_in_both_estimators():
    shared = set(documented(EnergyRegressor.__doc__, "Parameters")) & set(
        documented(DistilledMDNRegressor.__doc__, "Parameters"))
    assert {"hidden_size", "warm_start", "random_state"} <= shared
    for name in shared & set(SHARED_ENTRIES):
        entry = "\n".join("    " + line for line in SHARED_ENTRIES[name].splitlines())
        assert entry in EnergyRegressor.__doc__ and entry in DistilledMDNRegressor.__doc__


def test_a_placeholder_keeps_its_indentation_and_following_lines():
    class Documented:
        """Summary.

        Parameters
        ----------
        {batch_size}
            More about it.
        """

    text = fill_shared_docs(Documented).__doc__
    assert "\n        batch_size : int, default=64\n            Rows per minibatch.\n" \
           "            More about it.\n" in text


def test_an_unknown_placeholder_fails_loudly():
    class Documented:
        """{no_such_entry}"""

    with pytest.raises(KeyError):
        fill_shared_docs(Documented)
