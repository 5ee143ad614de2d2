"""Documentation shared by the estimators, written once so that it cannot drift.

A class docstring names a shared entry on a line of its own, ``{name}``; the
decorator :func:`fill_shared_docs` replaces that line with the numpydoc entry
below, indented as the line was. Lines that follow the placeholder, indented
deeper, add to the entry's description. The result is an ordinary numpydoc
docstring.
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["SHARED_ENTRIES", "fill_shared_docs"]

SHARED_ENTRIES = {
    # ------------------------------------------------------------ parameters
    "feature_extractor": """\
feature_extractor : {"auto", "mlp", "cnn", "resnet18"}, callable or nn.Module, default="auto"
    Network mapping inputs to features h_x. ``"mlp"`` is a two-layer ReLU
    MLP of width ``4 * hidden_size`` (images are flattened); ``"cnn"`` a small
    convolutional net (:class:`skebm.nn.ConvExtractor`, 64 features) that
    trains in minutes on a CPU for 32x32 to 64x64 images; ``"resnet18"``
    the paper's ResNet-18 backbone (:class:`skebm.nn.ResNet18Extractor`,
    512 features), randomly initialised unless
    ``feature_extractor_kwargs={"weights": path_or_state_dict}`` (nothing
    is downloaded; torchvision is not needed). ``"auto"`` is ``"mlp"`` for
    tables and ``"cnn"`` for images. A user extractor is an ``nn.Module``
    subclass or factory, called with ``**feature_extractor_kwargs`` (and
    ``input_shape``, the shape of one preprocessed input -- ``(n_features,)``
    or ``(C, H, W)`` -- if it takes an argument of that name), or a module
    instance, copied at every ``fit``. Its ``forward`` maps a float32 batch
    ``(batch, *input_shape)`` to ``(batch, features)``; the feature size is
    read from an ``out_features`` attribute or found by a dry run. Define
    it at module level so the fitted model can be pickled.""",
    "feature_extractor_kwargs": """\
feature_extractor_kwargs : dict, default=None
    Keyword arguments of the extractor (e.g. ``{"hidden_sizes": (128, 128)}``
    for ``"mlp"``, ``{"channels": (32, 64, 128)}`` for ``"cnn"``).""",
    "input_bins": """\
input_bins : int or "auto", default="auto"
    Bins per column of the piecewise-linear encoding of tables (Gorishniy
    et al., NeurIPS 2022): each standardised column is cut at its training
    quantiles into at most ``input_bins`` bins, and its position in each
    bin (0 left of it, 1 right of it, linear inside; the outer bins
    extrapolate linearly) is given to the extractor beside the column
    itself. It lets an MLP fit a steep or kinked response to one column, as
    tree ensembles do, while the column keeps smooth responses easy.
    Columns with few distinct values get fewer bins.
    ``"auto"`` is 8 for tables read by the built-in MLP
    (``feature_extractor`` ``"auto"`` or ``"mlp"``) and 0 otherwise; 0
    gives the extractor the standardised columns alone; an integer above 0
    encodes tables for any extractor (a user extractor then gets
    ``input_shape=(n_columns + n_bins,)``) and raises ``ValueError`` for
    images.""",
    "channel_axis": """\
channel_axis : {None, 1, -1}, default=None
    Axis of a 4-D image array ``X`` that holds the channels: ``1`` for
    ``(n, C, H, W)``, ``-1`` (or ``3``) for ``(n, H, W, C)``. ``None``
    detects it: the channel axis is whichever of axis 1 and the last axis
    has size 1, 3 or 4; when both or neither do, the smaller of the two (the
    last on a tie). Must be ``None`` for ``(n, H, W)`` images. Images are
    standardised per channel (``uint8`` divided by 255 first) with
    statistics learned in ``fit``.""",
    "augmentation": """\
augmentation : {None, "flip", "crop", "flip+crop"}, default=None
    Random changes to every training batch of images, drawn on the device
    and seeded by ``random_state``; predictions see the images unchanged.
    ``"flip"`` mirrors each image left-right with probability 1/2,
    ``"crop"`` shifts it by up to an eighth of its shorter side (padding
    with the channel mean), ``"flip+crop"`` does both. It helps when the
    target stays the same under these changes (counts, areas, age) and
    training images are few; it hurts when the target depends on
    orientation or position (steering angle, head pose, where an object
    is). Images only.""",
    "hidden_size": """\
hidden_size : int or "auto", default="auto"
    Width of the hidden layers of the heads; the default ``"mlp"``
    extractor's two layers are four times as wide (it runs once per row,
    the heads once per noise sample, so width costs little there).
    ``"auto"`` grows the width with the training rows ``n``, about
    ``32 * sqrt(n / 2000)`` as a power of two up to 64, so that the number
    of weights grows with the data: 32 up to 4000 rows, 64 beyond (see
    ``hidden_size_``).""",
    "max_epochs": """\
max_epochs : int or "auto", default="auto"
    Passes over the training data. ``"auto"`` sets a budget of optimiser
    steps instead (2000, and at least 10 passes): many passes for small
    tables, few for large ones, so the fit time hardly depends on the
    number of rows. With early stopping the held-out score is then checked
    about 25 times per fit.""",
    "batch_size": """\
batch_size : int, default=64
    Rows per minibatch.""",
    "learning_rate": """\
learning_rate : float, default=4e-3
    Initial Adam step size; it decays to zero on a cosine schedule.""",
    "weight_decay": """\
weight_decay : float, default=0.0
    Decoupled (AdamW) weight decay of all network parameters.""",
    "early_stopping": """\
early_stopping : bool or "auto", default="auto"
    Hold out ``validation_fraction`` of the rows and stop when their mean
    log-likelihood under the predictive distribution has not improved for
    ``n_iter_no_change`` held-out checks. At the end the parameters of the
    best check are restored. (The parameters checked and returned are always
    a moving average of the optimiser's iterates over about the last 100
    steps; batch-norm statistics of the feature extractor are recomputed for
    them from the training rows.) ``"auto"``
    does this when at least 20 rows would be held out (200 rows with the
    default ``validation_fraction``), and otherwise trains on all rows for
    the whole budget: a smaller held-out set scores too noisily to choose
    by, and tiny data sets keep every row.""",
    "validation_fraction": """\
validation_fraction : float, default=0.1
    Share of rows held out for early stopping.""",
    "n_iter_no_change": """\
n_iter_no_change : int, default=10
    Patience of early stopping, in held-out checks: epochs, or with
    ``max_epochs="auto"`` the about 25 checks per fit (so 10 is 40 % of
    the budget).""",
    "background_weight": """\
background_weight : "auto" or float in [0, 1), default="auto"
    Weight ε of a broad Gaussian background mixed into every predicted
    distribution: ``(1 - ε) p(y | x) + ε N(y; ȳ, diag(s_y²))`` with ȳ and
    s_y the mean and standard deviation of the training targets (a
    defensive mixture). A flexible model fitted to few rows can be
    certain of a wrong value, and one such test point can dominate a mean
    log-likelihood; the background bounds that loss, while costing at most
    ``-log(1 - ε) ≈ ε`` nats anywhere else. Every method of the returned
    distribution (density, CDF, quantiles, moments, samples) is that of
    the mixture. ``"auto"`` gives the background the weight of one
    observation, ``1 / (n_samples + 1)``, so its cost vanishes as data
    grow; 0 switches it off. Training does not depend on it: the held-out
    checks of early stopping score the network's own distribution, because
    over-fitting shows there as held-out rows it deems impossible, the very
    signal the background would hide.""",
    "device": """\
device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    Where to train and predict; ``"auto"`` picks CUDA when available.""",
    "random_state": """\
random_state : int, RandomState or None, default=None
    Seeds weight initialisation, shuffling, noise and prediction-time
    sampling; an int makes ``fit`` and every prediction reproducible on one
    machine: bit for bit on the CPU, and to float rounding on CUDA, whose
    kernels are not all deterministic.""",
    "verbose": """\
verbose : int, default=0
    Show a progress bar over epochs with the current losses (tqdm).""",
    "warm_start": """\
warm_start : bool, default=False
    Continue training the fitted network on the next ``fit`` call. The
    network, the target scaling and the target range of the first fit are
    kept, so a warm start raises ``ValueError`` if an architecture parameter
    (``feature_extractor``, ``feature_extractor_kwargs``, ``input_bins``,
    ``hidden_size``, ``n_components``, ``mixed_precision``,
    ``channel_axis``) changed or if
    the new targets leave the range the network was built for (the first
    fit's targets plus a margin of at least one standard deviation); refit
    with ``warm_start=False`` then.""",
    "mixed_precision": """\
mixed_precision : bool, default=False
    Run the feature extractor under bfloat16 autocast (the heads stay in
    float32). Meant for CUDA with image extractors, where it roughly halves
    the extractor's time and memory; on CPUs without bfloat16 support it is
    usually slower.""",
    "n_threads": """\
n_threads : "auto" or int, default="auto"
    Torch intra-op threads used by ``fit`` and prediction (``predict``,
    ``sample``, ``score``, ``predict_dist`` and the network evaluations of
    the distribution it returns). Afterwards, also after an error, the
    calling thread's torch setting is what it was before; fits and
    predictions that run at the same time in several Python threads each
    restore their own thread's setting (torch's OpenMP builds, the default,
    keep one per thread; where torch keeps one for the process, it returns
    to its value before the first of them once the last has finished, and
    they run with the count set last meanwhile). ``"auto"`` uses one
    thread unless a training step's work
    (batch size x values per input row x hidden width) exceeds 1e7, as for
    images of 64 x 64 x 3 and more, and then as many as the load average
    leaves idle cores, never more than the cores the process may run on or
    ``torch.get_num_threads()`` (which ``torch.set_num_threads`` and
    ``OMP_NUM_THREADS`` set). Small networks gain little from more threads,
    and on a busy machine a thread that waits for a core stalls every
    operation: one epoch of a default fit on a 20000-row table took 6 s with
    one thread and 161 s with two on a loaded 2-core machine.""",
    # ------------------------------------------------------------ fit arguments
    "sample_weight": """\
sample_weight : array-like of shape (n_samples,), default=None
    Non-negative row weights; ``None`` weighs rows equally. A row of
    integer weight k counts as k copies of it (in expectation: training is
    stochastic), and rows of weight 0 are left out as if removed. Negative,
    non-finite or all-zero weights, or a length other than ``n_samples``,
    raise a ValueError. Only the relative weights matter.""",
    # ------------------------------------------------------------ attributes
    "background_weight_": """\
background_weight_ : float
    The background weight ε used by the last ``fit`` (see
    ``background_weight``).""",
    "input_bins_": """\
input_bins_ : int
    Most bins per input column of the encoding the network reads
    (``input_bins``, resolved by the first ``fit``; 0: none).""",
    "hidden_size_": """\
hidden_size_ : int
    The width used by the network (``hidden_size``, resolved by the first
    ``fit``; a warm start keeps it).""",
    "n_threads_": """\
n_threads_ : int
    Torch intra-op threads of the last ``fit`` (``n_threads`` resolved),
    also used when predicting.""",
    "world_size_": """\
world_size_ : int
    Processes that trained the model together in the last ``fit``: the size
    of the ``torch.distributed`` process group it ran in, 1 outside one or
    inside ``skebm.distributed.local_fit()`` (see the scaling guide).""",
    "n_iter_": """\
n_iter_ : int
    Epochs run by the last ``fit``.""",
    "validation_indices_": """\
validation_indices_ : ndarray of shape (n_held_out,), dtype=intp
    Rows of the last ``fit``'s ``X`` that early stopping held out, sorted;
    empty when no rows were held out. That fit did not train on them, so
    they give out-of-sample checks of this very model
    (``RecalibratedRegressor`` uses them), though they chose its checkpoint
    (and, for ``EnergyRegressor``, ``proposal_weight_``). After a
    ``warm_start`` fit, earlier fits may have trained on them.""",
    "n_features_in_": """\
n_features_in_ : int
    Number of input features (values per image, H * W * C, for images).""",
    "feature_names_in_": """\
feature_names_in_ : ndarray of str
    Input column names, when ``X`` had string column names.""",
    "input_shape_": """\
input_shape_ : tuple of int
    Shape of one input in ``fit``: ``(n_features,)``, or the image shape as
    passed (``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``). Later inputs must
    match it.""",
    "channel_axis_": """\
channel_axis_ : int or None
    Channel axis of the 4-D image array in ``fit`` (1 or 3); ``None`` for
    tables and ``(n, H, W)`` images.""",
    "device_": """\
device_ : torch.device
    Device the network lives on.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ ]*)\{(?P<name>\w+)\}$", re.MULTILINE)


def fill_shared_docs(cls: type) -> type:
    """Class decorator: replace each ``{name}`` line of the docstring by its shared entry.

    The docstrings of the methods the class defines are filled in the same way.

    Raises
    ------
    KeyError
        If a placeholder names no shared entry.
    """

    def entry(match: re.Match) -> str:
        return textwrap.indent(SHARED_ENTRIES[match["name"]], match["indent"])

    if cls.__doc__ is not None:  # None under ``python -OO``
        cls.__doc__ = _PLACEHOLDER.sub(entry, cls.__doc__)
    for method in vars(cls).values():  # methods defined by the class itself
        if callable(method) and getattr(method, "__doc__", None):
            method.__doc__ = _PLACEHOLDER.sub(entry, method.__doc__)
    return cls
