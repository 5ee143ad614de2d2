"""Save fitted models to a file that loading never executes: :func:`save`, :func:`load`.

Unpickling a file (``pickle``, ``joblib``, ``torch.load`` without
``weights_only``) runs whatever code the file names, so a pickled model is
safe to load only from its author. A skebm model file holds the estimator's
parameters and fitted attributes as JSON and its tensors as safetensors, and
loading rebuilds the networks from the recorded architecture; see the user
guide's page on persistence.
"""

from __future__ import annotations

from skebm._persistence._archive import read_archive, write_archive
from skebm._persistence._decoder import Decoder, untrusted_names
from skebm._persistence._encoder import Encoder
from skebm._persistence._types import ESTIMATOR_KINDS, trusted_names
from skebm.exceptions import ModelFormatError

__all__ = ["get_untrusted_types", "load", "save"]


def save(model, file) -> None:
    """Save an estimator to a skebm model file, which :func:`load` reads without running code.

    The file is a zip archive: a JSON manifest with the format version, the
    estimator's class, parameters and fitted attributes, and the recorded
    architecture of its networks; every array and tensor in safetensors;
    scikit-learn transformers of a ``Pipeline`` in the format of
    ``skops.io`` (which needs skops: ``pip install 'skebm[skops]'``).
    Tensors are saved from the CPU, so a model fitted on a GPU loads
    anywhere. Saving the same model twice writes the same bytes.

    Parameters
    ----------
    model : estimator
        A skebm estimator (``EnergyRegressor``, ``DistilledMDNRegressor``),
        meta-estimator (``RecalibratedRegressor``, ``EnsembleRegressor``) or
        scikit-learn ``Pipeline``, fitted or not. A ``Pipeline`` may hold
        skebm estimators and scikit-learn transformers. A user's feature
        extractor is saved by its import path (a class or function defined
        at the top level of a module), and loading it needs ``trusted``.
    file : str, path-like or binary file object
        Where to write. A path is replaced whole at the end, so a failed
        save leaves an existing file as it was.

    Raises
    ------
    TypeError
        If ``model`` holds something the format cannot write (the message
        names the attribute): a feature extractor given as a module instance
        or defined inside a function, an object of an unknown type, or a
        scikit-learn transformer when skops is not installed.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import io
    >>> from skebm import EnergyRegressor, load, save
    >>> from skebm.datasets import make_gustafsson2020
    >>> X, y = make_gustafsson2020(n_samples=200, random_state=0)
    >>> model = EnergyRegressor(max_epochs=2, random_state=0).fit(X, y)
    >>> file = io.BytesIO()  # or a path, such as "model.skebm"
    >>> save(model, file)
    >>> restored = load(io.BytesIO(file.getvalue()))
    >>> bool((restored.predict(X[:5]) == model.predict(X[:5])).all())
    True
    """
    if not isinstance(model, ESTIMATOR_KINDS):
        raise TypeError(
            "skebm.save writes skebm's estimators and meta-estimators and scikit-learn "
            f"Pipelines holding them, not {type(model).__name__}; save other scikit-learn "
            "objects with skops.io.")
    encoder = Encoder()
    tree = encoder.estimator(model, "model")
    write_archive(file, tree, encoder.tensors, encoder.blobs)


def load(file, *, trusted=None):
    """Load an estimator saved by :func:`save`, without unpickling anything.

    The networks are rebuilt from the recorded architecture and take the
    saved tensors, which must fit them exactly. Classes and functions named
    by the file are imported only if they are skebm's own or ``trusted``.
    A model fitted on a GPU loads on the CPU when CUDA is not available
    (with a :class:`~skebm.exceptions.DeviceWarning`), as pickles do.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`save`.
    trusted : sequence of str, class or function, default=None
        Code the file may name that loading may import and call: import
        paths such as ``"mypackage.nets.MyExtractor"`` (what
        :func:`get_untrusted_types` lists), or the objects themselves. A
        user's feature extractor, a subclass of a skebm estimator and
        scikit-learn objects that ``skops.io`` does not trust by default
        need it. Trust the code, not the file: the file only names it.

    Returns
    -------
    estimator
        The estimator, as it was saved; predictions equal those of the
        saved model on the same device.

    Raises
    ------
    UntrustedTypeError
        If the file names code that is neither skebm's nor ``trusted``.
    ModelFormatError
        If the file is not a skebm model file, is truncated or corrupted,
        was written by a format version this skebm does not read (the
        message names both versions), or holds data that does not make a
        model. Nothing is loaded.

    See Also
    --------
    save : Write the file.
    get_untrusted_types : What ``trusted`` would need to hold.

    Examples
    --------
    >>> import io
    >>> from skebm import DistilledMDNRegressor, load, save
    >>> from skebm.datasets import make_gustafsson2020
    >>> X, y = make_gustafsson2020(n_samples=200, random_state=0)
    >>> model = DistilledMDNRegressor(max_epochs=2, random_state=0).fit(X, y)
    >>> file = io.BytesIO()
    >>> save(model, file)
    >>> load(io.BytesIO(file.getvalue())).predict(X[:2]).shape
    (2,)
    """
    trusted = trusted_names(trusted)
    tree, version, tensors, blobs = read_archive(file)
    if tree.get("type") != "estimator":
        raise ModelFormatError("The file's model is not an estimator.")
    return Decoder(tensors, blobs, trusted, version).decode(tree, "model")


def get_untrusted_types(file) -> list[str]:
    """The code a model file names that :func:`load` would import only if trusted.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`save`.

    Returns
    -------
    list of str
        Import paths, sorted: user feature extractors, estimator subclasses
        and the types that ``skops.io`` does not trust by default. Empty
        for models built from skebm and common scikit-learn parts alone.

    Raises
    ------
    ModelFormatError
        If the file is not a skebm model file this skebm reads.

    Examples
    --------
    >>> import io
    >>> from skebm import EnergyRegressor, get_untrusted_types, save
    >>> file = io.BytesIO()
    >>> save(EnergyRegressor(), file)
    >>> get_untrusted_types(io.BytesIO(file.getvalue()))
    []
    """
    tree, _, _, blobs = read_archive(file)
    return untrusted_names(tree, blobs)
