"""Versions of a saved estimator's state, and the one place that upgrades older states.

One number, :data:`FORMAT_VERSION`, versions what a saved skebm estimator
holds: its parameters and fitted attributes, as pickles (``__getstate__``)
and as :func:`skebm.save` files write them. A pickle records it under
``"_skebm_pickle_format"`` (pickles of skebm 0.1.0 have none: version 1);
a file records it in its manifest.

=======  ===========  ========================================================
version  written by   what it added
=======  ===========  ========================================================
1        0.1.0        (pickles record no version)
2        development  the energy head's mixture term (``EnergyHead`` pickled
                      without it loads without it); ``_architecture``, the
                      parameters a warm start cannot change
3        development  parameters ``input_bins`` and ``proposal_weight``, with
                      their fitted ``input_bins_``, ``_input_bin_edges`` and
                      ``proposal_weight_``. The first version that
                      :func:`skebm.save` writes.
4        0.2.0        parameter ``n_threads`` (older models: ``"auto"``) and
                      its fitted ``n_threads_`` (older models: ``None``,
                      predicting with torch's own setting, as they did);
                      fitted ``world_size_`` (older models: 1)
=======  ===========  ========================================================

A new version appends what it adds to :data:`_ADDED` (with the values that
keep an older model predicting as it did) and bumps :data:`FORMAT_VERSION`;
:func:`upgrade_state` then brings the pickles and files of every older version
up to date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["FORMAT_VERSION", "OLDEST_FILE_FORMAT", "check_version", "upgrade_state"]

FORMAT_VERSION = 4
"""Version of the estimator state this skebm writes."""
OLDEST_FILE_FORMAT = 3
"""Oldest version of a :func:`skebm.save` file (the first one written)."""
UNVERSIONED = 1
"""Version of a pickle that records none (skebm 0.1.0)."""


@dataclass(frozen=True)
class _Added:
    """What a version added to an estimator's state.

    ``parameter`` (absent from older states) gets ``value``, if the class
    has that parameter; ``fitted`` attributes get their values when the
    estimator is fitted (and the class has ``parameter``, when one is named).
    """

    parameter: str | None
    value: object = None
    fitted: dict = field(default_factory=dict)


_ADDED: dict[int, tuple[_Added, ...]] = {
    2: (_Added(None, fitted={"_architecture": None}),),  # None: any architecture may warm start
    3: (
        _Added("input_bins", 0, fitted={"input_bins_": 0, "_input_bin_edges": None}),
        _Added("proposal_weight", 0.0, fitted={"proposal_weight_": 0.0}),
    ),
    4: (
        _Added("n_threads", "auto", fitted={"n_threads_": None}),
        _Added(None, fitted={"world_size_": 1}),
    ),
}


def check_version(version, what: str, oldest: int = UNVERSIONED, written_by: str = "") -> int:
    """The version of a saved state, if this skebm reads it.

    Parameters
    ----------
    version : int
        The version the state records.
    what : str
        What was saved, for the message: ``"pickle"`` or ``"file"``.
    oldest : int, default=1
        The oldest version of that kind of state.
    written_by : str, default=""
        The skebm version that wrote it, if recorded.

    Returns
    -------
    int
        ``version``.

    Raises
    ------
    ValueError
        If ``version`` is not an integer from ``oldest`` to
        :data:`FORMAT_VERSION`; the message names both versions.
    """
    from skebm import __version__

    by = f" by skebm {written_by}" if written_by else ""
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"This {what} records the format version {version!r}, which is not "
                         "an integer: it was not written by skebm.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"This {what} was written{by} with format version {version}; skebm "
            f"{__version__} reads versions {oldest} to {FORMAT_VERSION}. Upgrade skebm to "
            "load it.")
    if version < oldest:
        raise ValueError(
            f"This {what} was written{by} with format version {version}; skebm "
            f"{__version__} reads versions {oldest} to {FORMAT_VERSION}. No skebm release "
            f"writes version {version}.")
    return version


def upgrade_state(state: dict, version: int, parameter_names: Iterable[str],
                  fitted: bool) -> None:
    """Bring the state of an estimator saved at ``version`` up to :data:`FORMAT_VERSION`.

    Attributes the newer versions added get the values with which the older
    model predicts as it did; attributes the state already has are kept.

    Parameters
    ----------
    state : dict
        Parameters and fitted attributes by name; updated in place.
    version : int
        The version the state was saved with (checked with :func:`check_version`).
    parameter_names : iterable of str
        The estimator class's parameters.
    fitted : bool
        Whether the state is that of a fitted estimator.
    """
    names = set(parameter_names)
    for step in range(version + 1, FORMAT_VERSION + 1):
        for added in _ADDED.get(step, ()):
            if added.parameter is not None:
                if added.parameter not in names:
                    continue
                state.setdefault(added.parameter, added.value)
            if fitted:
                for name, value in added.fitted.items():
                    state.setdefault(name, value)
