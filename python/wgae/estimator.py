"""The scikit-learn estimator: :class:`Autoencoder`.

Everything here is plain Python over the extension (``wgae._wgae``): the
parameters become wgae's model and training configs (JSON), the data goes to
the GPU as float32 rows (a C-contiguous float32 array without a copy), and
the fitted model stays on the GPU, inside ``model_``.
"""

import hashlib
import json
import numbers
import sys
from collections import OrderedDict

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _wgae

# How a missing entry reaches wgae (wgae::data::MISSING): float32's lowest
# value, which no finite scaled value equals.
MISSING = np.finfo(np.float32).min

_ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "identity")
_VARIANTS = ("plain", "sparse", "kl-sparse", "denoising", "contractive", "vae")
_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
_SCHEDULES = ("constant", "step", "cosine")

# Models rebuilt from the same bytes on the same device in this process
# (unpickled again and again, as a Dask worker does for every task) share
# one copy on the GPU.
_LOADED = OrderedDict()
_LOADED_MAX = 8


def _model_from_bytes(data, device):
    key = (hashlib.sha256(data).hexdigest(), device)
    model = _LOADED.get(key)
    if model is None:
        model = _wgae.from_bytes(data, device)
        _LOADED[key] = model
        while len(_LOADED) > _LOADED_MAX:
            _LOADED.popitem(last=False)
    else:
        _LOADED.move_to_end(key)
    return model


def _mad_k(rule):
    """K of a threshold rule "mad" (K = 3) or "mad:K": median + K * 1.4826 * MAD."""
    head, _, k = rule.partition(":")
    try:
        k = 3.0 if head == "mad" and not k else float(k)
    except ValueError:
        k = None
    if head != "mad" or k is None or not np.isfinite(k) or k <= 0:
        raise ValueError(
            f"contamination={rule!r}: expected a share in (0, 0.5], or 'mad' / 'mad:K' "
            "(threshold at the median error + K robust standard deviations, K > 0)"
        )
    return k


def _activation(name, what):
    if name is None:
        return None
    if not isinstance(name, str):
        raise ValueError(f"{what} must be a string such as 'relu', got {name!r}")
    base = name.split(":")[0]
    if base not in _ACTIVATIONS + ("leaky_relu",):
        raise ValueError(
            f"{what}={name!r}: expected one of {', '.join(_ACTIVATIONS)} or 'leaky_relu:0.01'"
        )
    return name


class Autoencoder(TransformerMixin, OutlierMixin, BaseEstimator):
    """An autoencoder trained and run on the GPU through WebGPU.

    A transformer (``transform`` gives the codes, ``inverse_transform``
    decodes them) and an outlier detector (``score_samples`` is minus the
    reconstruction error, so higher is more normal; ``predict`` gives -1 for
    the ``contamination`` share of the training data that reconstructs
    worst, as IsolationForest does).

    Parameters
    ----------
    hidden : tuple of int, default=(128, 32)
        Encoder widths; the last is the code. The decoder mirrors them
        unless ``decoder`` is given.
    activation : str, default="relu"
        Hidden layers' activation: relu, leaky_relu:ALPHA, sigmoid, tanh,
        gelu, identity.
    code_activation : str or None, default=None
        The code layer's activation (``activation`` when None).
    output_activation : str or None, default=None
        sigmoid for loss="bce", identity for loss="mse" when None.
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. BCE needs data in [0, 1] (images).
    variant : str, default="plain"
        plain, sparse, kl-sparse, denoising, contractive or vae: fills the
        options below that are left unset with the variant's defaults.
    decoder : tuple of int or None
        Decoder hidden widths.
    tied : bool, default=False
        The decoder uses the transposed encoder weights.
    dropout, noise, l1, kl_rho, kl_beta, contractive, vae_beta
        Regularization: dropout probability; input noise for denoising
        ("mask:0.25", "gaussian:0.1", "salt_pepper:0.1"); L1 on the code;
        KL sparsity target and weight; contractive weight; a VAE's KL weight.
    input_shape, encoder_layers, decoder_layers
        A convolutional (or any layer-list) model: each sample's shape,
        channels first (``(1, 28, 28)``, or ``(channels, length)``), and the
        layers as dicts, as wgae's TOML writes them
        (``{"type": "conv2d", "filters": 16, "kernel": 3, "padding": "same"}``).
        Rows of X are samples flattened in that order; or X may hold the
        samples shaped, ``(n, C, H, W)`` or ``(n, C, L)`` (``input_shape``
        is then taken from X when not given), and ``reconstruct``,
        ``inverse_transform`` and ``sample`` give samples in that shape.
    epochs, batch_size, optimizer, lr, beta1, beta2, eps, weight_decay,
    clip_norm, schedule, step_epochs, gamma, min_lr, warmup_steps
        Training, as wgae's CLI and TOML name them.
    validation_split : float, default=0.0
        The last share of X held out to report a validation loss (and for
        early stopping).
    early_stopping : int or None
        Stop after this many epochs without improvement and keep the best
        weights.
    min_delta : float, default=0.0
        The least improvement early stopping counts.
    contamination : float or str, default=0.1
        The share of outliers assumed in the training data: sets
        ``threshold_`` at that quantile of the training errors. Or, with no
        share to guess, ``"mad"`` (or ``"mad:K"``): the median training
        error plus K (3 by default) robust standard deviations, 1.4826 times
        the median absolute deviation of the errors.
    missing : {"refuse", "mask"}, default="refuse"
        What NaN in X means: an error (``"refuse"``), or a missing entry
        (``"mask"``): the model reads it as 0 and learns from the observed
        entries alone (the loss is their mean), its errors and scores cover
        the observed entries, and ``impute(X)`` fills the gaps.
    precision : {"f32", "f16"}, default="f32"
        Inference arithmetic (f16: mixed precision, needs shader-f16).
    random_state : int, RandomState or None
        Seeds the initial weights, the shuffles, noise and dropout. The same
        seed on the same device gives the same bits.
    device : str or None
        Part of an adapter's name (see ``wgae.devices()``); None lets wgae
        choose (a hardware GPU before a software one).
    verbose : int, default=0
        1 prints one line per epoch.
    callback : callable or None
        Called after each epoch with that epoch's metrics (a dict); return
        False to stop training.

    Attributes
    ----------
    model_ : wgae._wgae.Model
        The trained model, on the GPU.
    history_ : list of dict
        Each epoch's metrics.
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when X had feature names)
    threshold_ : float
        The reconstruction error above which ``predict`` says -1.
    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_``.
    """

    def __init__(
        self,
        hidden=(128, 32),
        activation="relu",
        code_activation=None,
        output_activation=None,
        loss="mse",
        variant="plain",
        decoder=None,
        tied=False,
        dropout=0.0,
        noise=None,
        l1=0.0,
        kl_rho=None,
        kl_beta=1.0,
        contractive=0.0,
        vae_beta=1.0,
        input_shape=None,
        encoder_layers=None,
        decoder_layers=None,
        epochs=10,
        batch_size=256,
        optimizer="adam",
        lr=1e-3,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        clip_norm=0.0,
        schedule="constant",
        step_epochs=10,
        gamma=0.5,
        min_lr=0.0,
        warmup_steps=0,
        validation_split=0.0,
        early_stopping=None,
        min_delta=0.0,
        contamination=0.1,
        missing="refuse",
        precision="f32",
        random_state=None,
        device=None,
        verbose=0,
        callback=None,
    ):
        self.hidden = hidden
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
        self.variant = variant
        self.decoder = decoder
        self.tied = tied
        self.dropout = dropout
        self.noise = noise
        self.l1 = l1
        self.kl_rho = kl_rho
        self.kl_beta = kl_beta
        self.contractive = contractive
        self.vae_beta = vae_beta
        self.input_shape = input_shape
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.schedule = schedule
        self.step_epochs = step_epochs
        self.gamma = gamma
        self.min_lr = min_lr
        self.warmup_steps = warmup_steps
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.min_delta = min_delta
        self.contamination = contamination
        self.missing = missing
        self.precision = precision
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------ configs

    def _check_params(self):
        def number(name, lo=None, hi=None, lo_open=False, hi_open=False, integer=False):
            v = getattr(self, name)
            kind = numbers.Integral if integer else numbers.Real
            if isinstance(v, bool) or not isinstance(v, kind) or not np.isfinite(v):
                what = "an integer" if integer else "a finite number"
                raise ValueError(f"{name}={v!r}: expected {what}")
            if lo is not None and (v < lo or (lo_open and v == lo)):
                raise ValueError(f"{name}={v!r} must be {'>' if lo_open else '>='} {lo}")
            if hi is not None and (v > hi or (hi_open and v == hi)):
                raise ValueError(f"{name}={v!r} must be {'<' if hi_open else '<='} {hi}")

        for name in ("epochs", "batch_size", "step_epochs"):
            number(name, 1, integer=True)
        number("warmup_steps", 0, integer=True)
        number("lr", 0, lo_open=True)
        for name in ("weight_decay", "clip_norm", "l1", "contractive", "vae_beta", "kl_beta",
                     "min_lr", "min_delta"):
            number(name, 0)
        number("dropout", 0, 1, hi_open=True)
        number("validation_split", 0, 1, hi_open=True)
        if isinstance(self.contamination, str):
            _mad_k(self.contamination)
        else:
            number("contamination", 0, 0.5, lo_open=True)
        number("beta1", 0, 1, hi_open=True)
        number("beta2", 0, 1, hi_open=True)
        number("eps", 0, lo_open=True)
        number("gamma", 0, lo_open=True)
        if self.kl_rho is not None:
            number("kl_rho", 0, 1, lo_open=True, hi_open=True)
        if self.early_stopping is not None:
            number("early_stopping", 1, integer=True)
            if self.validation_split == 0:
                raise ValueError(
                    "early_stopping watches the validation loss: give validation_split "
                    "(or validation_data to fit)"
                )
        if self.loss not in ("mse", "bce"):
            raise ValueError(f"loss={self.loss!r}: expected 'mse' or 'bce'")
        if self.variant not in _VARIANTS:
            raise ValueError(f"variant={self.variant!r}: expected one of {', '.join(_VARIANTS)}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer={self.optimizer!r}: expected one of {', '.join(_OPTIMIZERS)}"
            )
        if self.schedule not in _SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r}: expected one of {', '.join(_SCHEDULES)}")
        if self.missing not in ("refuse", "mask"):
            raise ValueError(f"missing={self.missing!r}: expected 'refuse' or 'mask'")
        if self.precision not in ("f32", "f16"):
            raise ValueError(f"precision={self.precision!r}: expected 'f32' or 'f16'")
        if self.callback is not None and not callable(self.callback):
            raise ValueError("callback must be callable (it gets each epoch's metrics)")
        if self.encoder_layers is None:
            hidden = self.hidden
            if isinstance(hidden, numbers.Integral):
                hidden = (hidden,)
            if (not isinstance(hidden, (tuple, list)) or not hidden
                    or not all(isinstance(h, numbers.Integral) and h >= 1 for h in hidden)):
                raise ValueError(f"hidden={self.hidden!r}: expected widths such as (128, 32)")

    def _model_config(self, n_features):
        loss = self.loss
        out_act = self.output_activation or ("sigmoid" if loss == "bce" else "identity")
        cfg = {
            "act": _activation(self.activation, "activation"),
            "out_act": _activation(out_act, "output_activation"),
            "loss": loss,
            "tied": bool(self.tied),
            "dropout": float(self.dropout),
            "l1": float(self.l1),
            "contractive": float(self.contractive),
        }
        if self.encoder_layers is not None:
            shape = list(self.input_shape) if self.input_shape is not None else list(
                getattr(self, "sample_shape_", None) or [n_features])
            if int(np.prod(shape)) != n_features:
                raise ValueError(
                    f"input_shape {tuple(shape)} holds {int(np.prod(shape))} values but X has "
                    f"{n_features} features"
                )
            cfg["input_shape"] = shape
            cfg["encoder_layers"] = [dict(layer) for layer in self.encoder_layers]
            if self.decoder_layers is not None:
                cfg["decoder_layers"] = [dict(layer) for layer in self.decoder_layers]
        else:
            hidden = self.hidden
            if isinstance(hidden, numbers.Integral):
                hidden = (hidden,)
            cfg["input_dim"] = n_features
            cfg["encoder"] = [int(h) for h in hidden]
            if self.decoder is not None:
                cfg["decoder"] = [int(h) for h in self.decoder]
        if self.code_activation is not None:
            cfg["code_act"] = _activation(self.code_activation, "code_activation")
        if self.noise is not None:
            cfg["noise"] = str(self.noise)
        # Values the user sets win over the variant's defaults.
        if self.kl_rho is not None or self.variant == "kl-sparse":
            rho = 0.05 if self.kl_rho is None else float(self.kl_rho)
            cfg["kl_sparsity"] = {"rho": rho, "beta": float(self.kl_beta)}
        if self.variant == "vae":
            cfg["variational"] = {"beta": float(self.vae_beta)}
        if self.missing == "mask":
            cfg["missing"] = "mask"
        return cfg

    def _train_config(self, seed):
        return {
            "epochs": int(self.epochs),
            "batch_size": int(self.batch_size),
            "optimizer": self.optimizer,
            "lr": float(self.lr),
            "beta1": float(self.beta1),
            "beta2": float(self.beta2),
            "eps": float(self.eps),
            "weight_decay": float(self.weight_decay),
            "clip_norm": float(self.clip_norm),
            "schedule": self.schedule,
            "step_epochs": int(self.step_epochs),
            "gamma": float(self.gamma),
            "min_lr": float(self.min_lr),
            "warmup_steps": int(self.warmup_steps),
            "seed": int(seed),
            "validation_split": float(self.validation_split),
            "early_stopping": None if self.early_stopping is None else int(self.early_stopping),
            "min_delta": float(self.min_delta),
        }

    # ------------------------------------------------------------ data

    def _rows(self, X, reset):
        X = self._flatten(X, reset)
        masked = self.missing == "mask"
        try:
            X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64],
                              ensure_all_finite="allow-nan" if masked else True)
        except ValueError as e:
            if not masked and "NaN" in str(e):
                raise ValueError(
                    "X contains NaN: fit with missing='mask' to learn from the observed "
                    "entries (impute() then fills the gaps), or impute first "
                    "(sklearn.impute.SimpleImputer)"
                ) from e
            raise
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        if masked:
            # NaN is a missing entry: wgae holds it as MISSING, which the
            # model reads as 0 and leaves out of its loss.
            X32 = np.where(np.isnan(X32), MISSING, X32)
        if self.precision == "f16" and X32.size and np.abs(X32).max() > 65504:
            raise ValueError(
                f"precision='f16' holds values up to 65504, and X holds values up to "
                f"{np.abs(X32).max():g}: use precision='f32', or scale X "
                "(sklearn.preprocessing.StandardScaler)"
            )
        return X, X32

    def _flatten(self, X, reset):
        """Shaped samples, (n, C, H, W) or (n, C, L) as a convolutional
        model reads them (or (n, H, W) images), as rows of their values in
        that order. Fitting keeps the sample shape (``sample_shape_``) for
        the outputs that are samples."""
        shape = getattr(X, "shape", None)
        if shape is None or len(shape) <= 2 or hasattr(X, "iloc"):
            if reset:
                self.__dict__.pop("sample_shape_", None)
            return X
        X = np.asarray(X)
        sample = tuple(int(d) for d in X.shape[1:])
        want = self.input_shape if self.input_shape is not None else (
            None if reset else getattr(self, "sample_shape_", None))
        want = None if want is None else tuple(int(d) for d in want)
        if want is not None and sample != want:
            hint = ""
            if sorted(sample) == sorted(want):
                hint = "; samples stored channels last can be moved: np.moveaxis(X, -1, 1)"
            raise ValueError(
                f"X's samples are shaped {sample}, but the model's input_shape is {want} "
                f"(channels first){hint}"
            )
        if reset:
            self.sample_shape_ = sample
        return X.reshape(len(X), -1)

    def _as_samples(self, values, like=None):
        """``values`` (rows) in the shape of ``like`` (the input, when it
        was shaped), or of the fitted samples when no input is given."""
        if like is not None:
            shape = getattr(like, "shape", None)
            if shape is not None and len(shape) > 2 and not hasattr(like, "iloc"):
                return values.reshape(shape)
            return values
        shape = getattr(self, "sample_shape_", None)
        return values if shape is None else values.reshape((len(values),) + shape)

    def _check_range(self, X32, what):
        seen = X32[X32 != MISSING]
        if not seen.size:
            raise ValueError(f"{what} has no observed entry")
        if self.loss == "bce" and (seen.min() < 0 or seen.max() > 1):
            raise ValueError(
                f"loss='bce' compares {what} with probabilities, so its values must lie in "
                f"[0, 1] (they span {seen.min():g} to {seen.max():g}); scale them "
                "(sklearn.preprocessing.MinMaxScaler) or use loss='mse'"
            )

    # ------------------------------------------------------------ fitting

    def fit(self, X, y=None, validation_data=None):
        """Trains on the rows of X (y is ignored). ``validation_data`` (rows
        like X) reports a validation loss each epoch. Ctrl-C stops training
        at the end of the epoch: the estimator is then fitted with the
        weights so far (the best ones with early stopping) and the
        KeyboardInterrupt is raised again."""
        self._check_params()
        X, X32 = self._rows(X, reset=True)
        self._check_range(X32, "the training data")
        val32 = None
        if validation_data is not None:
            if self.validation_split:
                raise ValueError("give validation_split or validation_data, not both")
            _, val32 = self._rows(validation_data, reset=False)
            self._check_range(val32, "the validation data")
        rs = self.random_state
        seed = rs if isinstance(rs, numbers.Integral) and not isinstance(rs, bool) and rs >= 0 \
            else check_random_state(rs).randint(np.iinfo(np.int32).max)
        history = []

        def on_epoch(report_json):
            report = json.loads(report_json)
            history.append(report)
            if self.verbose:
                val = report.get("val_loss")
                print(
                    f"epoch {report['epoch']:3d}: loss {report['train_loss']:.5f}"
                    + (f"  val {val:.5f}" if val is not None else "")
                    + f"  {report['samples_per_sec']:.0f} samples/s",
                    file=sys.stderr,
                    flush=True,
                )
            if self.callback is not None:
                return self.callback(dict(report)) is not False
            return True

        model_json = json.dumps(self._model_config(X32.shape[1]))
        train_json = json.dumps(self._train_config(seed))
        model, hist_json, stopped_by = _wgae.train(
            model_json, train_json, X32, val32, on_epoch, self.device, self.variant
        )
        hist = json.loads(hist_json)
        self.model_ = model
        self.history_ = hist["epochs"]
        self.best_epoch_ = hist["best_epoch"]
        self.n_iter_ = len(self.history_)
        self._set_threshold(X32)
        if stopped_by is not None:
            raise stopped_by
        return self

    def set_threshold(self, X):
        """Sets ``threshold_`` from ``contamination`` and the reconstruction
        errors of X (a model loaded from a file has none)."""
        check_is_fitted(self)
        _, X32 = self._rows(X, reset=False)
        self._set_threshold(X32)
        return self

    def _set_threshold(self, X32):
        errors = self.model_.errors(X32, self.precision == "f16").astype(np.float64)
        if isinstance(self.contamination, str):
            median = np.median(errors)
            mad = np.median(np.abs(errors - median))
            self.threshold_ = float(median + _mad_k(self.contamination) * 1.4826 * mad)
        else:
            self.threshold_ = float(np.quantile(errors, 1.0 - self.contamination))
        self.offset_ = -self.threshold_

    # ------------------------------------------------------------ inference

    def _out(self, values, X):
        return values.astype(X.dtype, copy=False)

    def transform(self, X):
        """The codes of the rows of X (a VAE's means), in X's float dtype."""
        check_is_fitted(self)
        X, X32 = self._rows(X, reset=False)
        return self._out(self.model_.encode(X32, self.precision == "f16"), X)

    def inverse_transform(self, X):
        """Decodes codes (rows of ``n_components_`` values) back to samples."""
        check_is_fitted(self)
        Z = np.asarray(X)
        if Z.ndim != 2 or Z.shape[1] != self.model_.code_dim:
            raise ValueError(
                f"inverse_transform takes codes of {self.model_.code_dim} values per row, "
                f"got an array of shape {Z.shape}"
            )
        dtype = Z.dtype if Z.dtype in (np.float32, np.float64) else np.float64
        Z32 = np.ascontiguousarray(Z, dtype=np.float32)
        if not np.isfinite(Z32).all():
            raise ValueError("inverse_transform: the codes hold NaN or infinity")
        out = self.model_.decode(Z32, self.precision == "f16").astype(dtype, copy=False)
        return self._as_samples(out)

    def reconstruct(self, X):
        """The reconstructions of the samples of X, in X's shape."""
        check_is_fitted(self)
        shaped = X
        X, X32 = self._rows(X, reset=False)
        rec = self._out(self.model_.reconstruct(X32, self.precision == "f16"), X)
        return self._as_samples(rec, shaped)

    def reconstruction_error(self, X, per_feature=False):
        """Each row's mean squared reconstruction error; with
        ``per_feature=True``, each feature's share of it (its squared error
        over the number of features: a row's shares add up to its error),
        to see which features made a row an outlier."""
        check_is_fitted(self)
        X, X32 = self._rows(X, reset=False)
        if per_feature:
            rec = self.model_.reconstruct(X32, self.precision == "f16")
            seen = X32 != MISSING
            d = np.where(seen, X32.astype(np.float64) - rec, 0.0)
            # A missing entry has no share; the others divide by the row's
            # observed entries, as the row's error does.
            n = np.maximum(seen.sum(axis=1, keepdims=True), 1)
            return self._out(d * d / n, X)
        return self._out(self.model_.errors(X32, self.precision == "f16"), X)

    def impute(self, X):
        """X with each missing entry (NaN) replaced by its reconstruction,
        every observed entry as it was (fit with ``missing="mask"``)."""
        check_is_fitted(self)
        if self.missing != "mask":
            raise ValueError(
                "impute() fills missing entries, which a model learns to do when fitted with "
                "missing='mask'"
            )
        shaped = X
        X, X32 = self._rows(X, reset=False)
        rec = self.model_.reconstruct(X32, self.precision == "f16")
        out = np.where(X32 == MISSING, rec, np.asarray(X, dtype=np.float64))
        return self._as_samples(self._out(out, X), shaped)

    def score_samples(self, X):
        """Minus the reconstruction error: the higher, the more normal."""
        return -self.reconstruction_error(X)

    def score(self, X, y=None):
        """The mean of ``score_samples(X)``: minus the mean reconstruction
        error, so higher is better. ``GridSearchCV`` uses it when no
        ``scoring`` is given (y is ignored)."""
        return float(np.mean(self.score_samples(X)))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers."""
        check_is_fitted(self)
        if not hasattr(self, "offset_"):
            raise NotFittedError(
                "this model has no threshold_ (a model file keeps none): call "
                "set_threshold(X) with normal data before decision_function or predict"
            )
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers, -1 for outliers (reconstruction error above
        ``threshold_``)."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def sample(self, n_samples=1, random_state=None):
        """``n_samples`` new samples from a VAE's prior, decoded."""
        check_is_fitted(self)
        if self.variant != "vae":
            raise ValueError("sample() draws from a VAE's prior: fit with variant='vae'")
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples={n_samples!r} must be a positive integer")
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        return self._as_samples(self.model_.sample(int(n_samples), int(seed)).astype(np.float64))

    @property
    def n_components_(self):
        """Values per code."""
        check_is_fitted(self)
        return self.model_.code_dim

    def summary(self):
        """The layer table, as Keras' summary() prints it."""
        check_is_fitted(self)
        return self.model_.summary()

    # ------------------------------------------------------------ files

    def save(self, path, overwrite=False):
        """Writes the model file (safetensors, PyTorch's names and layouts):
        the same file as ``wgae train --save``, which ``wgae encode``,
        ``reconstruct`` and ``anomaly`` read. An existing file is replaced
        only with ``overwrite=True``."""
        check_is_fitted(self)
        self.model_.save(str(path), bool(overwrite))

    def to_onnx(self, path, part="full", overwrite=False):
        """Writes the model as ONNX (opset 17) for onnxruntime and other ONNX
        runtimes, with a symbolic batch dimension. ``part`` is "full"
        (``input`` to ``reconstruction``), "encoder" (``input`` to ``code``,
        a VAE's mean), "decoder" (``code`` to ``reconstruction``) or "score"
        (``input`` to ``score``, each row's reconstruction error as
        ``score_samples`` negates it, and ``feature_errors``). The rows go in
        as ``fit`` took them, flattened; with ``missing="mask"``, NaN marks
        a missing entry. An existing file is replaced only with
        ``overwrite=True``."""
        check_is_fitted(self)
        self.model_.to_onnx(str(path), str(part), bool(overwrite))

    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            state["_model_bytes"] = bytes(model.to_bytes())
        return state

    def __setstate__(self, state):
        data = state.pop("_model_bytes", None)
        self.__dict__.update(state)
        if data is not None:
            self.model_ = _model_from_bytes(data, self.device)

    def __dask_tokenize__(self):
        """Dask names tasks by their inputs: an estimator by its class, its
        parameters and its weights' digest (a model file's bytes are not
        the same twice: their metadata's order varies)."""
        params = sorted((k, repr(v)) for k, v in self.get_params().items())
        model = getattr(self, "model_", None)
        return (type(self).__name__, params, model.digest() if model is not None else None,
                getattr(self, "threshold_", None))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "mask"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")


def load(path, device=None, **params):
    """An :class:`Autoencoder` fitted with the model file at ``path``
    (written by ``save`` or by ``wgae train --save``). ``params`` set
    estimator parameters that a file does not hold (``contamination``,
    ``precision``...); call ``set_threshold(X)`` before ``predict``, since a
    model file keeps no threshold."""
    model = _wgae.load(str(path), device)
    cfg = json.loads(model.config_json)
    est = Autoencoder(device=device, **params)
    est.model_ = model
    est.n_features_in_ = model.input_dim
    if cfg.get("missing") == "mask":
        est.missing = "mask"
    if cfg.get("encoder_layers") is not None:
        est.input_shape = tuple(cfg.get("input_shape") or ())
        est.encoder_layers = cfg["encoder_layers"]
        est.decoder_layers = cfg.get("decoder_layers")
    else:
        est.hidden = tuple(cfg["encoder"])
        est.decoder = cfg.get("decoder")
    est.activation = cfg.get("act", est.activation)
    est.code_activation = cfg.get("code_act")
    est.output_activation = cfg.get("out_act")
    est.loss = cfg.get("loss", est.loss)
    est.tied = cfg.get("tied", False)
    if cfg.get("variational"):
        est.variant = "vae"
        est.vae_beta = cfg["variational"].get("beta", 1.0)
    est.history_ = []
    return est


__all__ = ["Autoencoder", "load"]
