"""A recurrent forecaster: read ``L`` past steps of one or more series, forecast ``H`` more.

Inputs, batch first (``S`` target series, ``Cp`` past and ``Cf`` known-future covariates)::

    past_target        (B, L, S)      the series up to now (scaled by the caller)
    past_covariates    (B, L, Cp)     other columns known up to now only
    future_covariates  (B, L+H, Cf)   known ahead (calendar features, then given columns):
                                      lookback and horizon
    future_target      (B, H, S)      the values to forecast (training, validation)

Encoder (both decoders)::

    x_t = [y_t ; pc_t ; fc_t],  t < L   -> RNN / LSTM / GRU (stacked)  -> final state h_L

Direct multi-horizon head (``decoder="direct"``): all ``H`` steps at once from the top
layer's final hidden state and the horizon's known covariates::

    raw = Linear([h_L^top ; fc_L ; ... ; fc_{L+H-1}])  reshaped to (B, H, S, P)

Autoregressive decoder (``decoder="autoregressive"``, DeepAR-style): a second recurrent
stack of the same kind starts from the encoder's final state and reads the previous value
and the step's known covariates; a linear head maps each output to the step's ``P`` raw
distribution parameters::

    d_k = [y_{L+k-1} ; fc_{L+k}],  k = 0 .. H-1     (y_{L-1}: the last observed value)
    raw_k = Linear(decoder output at step k)         (B, S, P)

In training (and for the validation loss) ``y_{L+k-1}`` for ``k >= 1`` is the true value
(teacher forcing); ``predict`` feeds back a draw from the step's predicted distribution, so
each of ``num_samples`` paths is a joint sample of the ``H`` steps.

With ``normalize="last"`` each window is read relative to its last observed value
``y_{L-1}`` (NLinear's normalisation; it lets a trending series leave the range it was
trained on): ``y_{L-1}`` is subtracted from every target value the model reads (the
lookback, and the teacher-forced or sampled previous values of the decoder) and added back
to the location parameters of its output (``mu``, or every quantile, or the point
forecast). ``normalize="season"`` reads the window the same way but adds back, to step
``h``, the last observed value of the same season (a seasonal-naive skip connection: the
network forecasts the change from one season ago)::

    input shift   a = y_{L-1}
    output shift  b_h = y_{L-s+(h mod s)},  h = 0 .. H-1,  s = season <= L

The shifts are constants of the input, so the gradient of the loss with respect to the
shifted outputs is the gradient with respect to the outputs.

With ``window_scale=True`` each window is also divided by its own spread (RevIN-style), so
the network reads every window at the same scale and the width of its intervals follows
the window's volatility rather than the training part's::

    s = sqrt(var(y_0 .. y_{L-1}) + 1e-5)       (per window and series)
    the model reads (y_t - a) / s, and forecasts z with y = b_h + s * z

``window_mean=True`` does the same with DeepAR's mean scale as the divisor::

    s = mean(|y_0| .. |y_{L-1}|) + 1e-5

On a positive series read without log (``scaler`` mean or none, so the values stay
positive), the seasonal pattern and the forecast change then scale with the window's
level: the network forecasts the change as a fraction of the level, a rate, as a model
on the log scale does. Without ``window_mean`` (and without log) it forecasts the change
as an amount in the series' units, which slows in relative terms as the level grows, as
an additive-trend ETS does.

``forward`` then returns the parameters of ``z`` (the window's units), ``loss`` scores
them against ``(y - b_h) / s`` of the windows of the last ``forward`` (so the loss of each
window is measured relative to its spread), and ``predict`` maps everything back to ``y``.

With ``skip=True`` the head also reads the (shifted) lookback window of the targets itself,
a linear path from input to output beside the recurrent one (NLinear is that path alone)::

    w   = [(y_0 - a) / s ; ... ; (y_{L-1} - a) / s]          (s = 1 without a divisor)
    raw = Linear([h_L^top ; fc_L ; ... ; fc_{L+H-1} ; w])     (direct)
    raw_k = Linear([decoder output at step k ; w])           (autoregressive, every step)

``P`` and the loss come from ``rnnkit.nn.distribution_losses`` (mse, mae, gaussian, studentt,
quantile). The loss is that module's mean over every ``(b, h, s)`` term (and quantile).

Parameters carry PyTorch's names under the sub-module prefixes ``encoder.``, ``decoder.``
(autoregressive only) and ``head.``, so the state dict loads into an ``nn.Module`` with
``nn.LSTM``/``GRU``/``RNN`` attributes ``encoder``/``decoder`` and an ``nn.Linear`` ``head``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import ConfigError, derived, option, to_dict, validate
from rnnkit.models.configured import Configured
from rnnkit.nn import LSTM, Dropout, Layer, Linear
from rnnkit.nn import distribution_losses as dl
from rnnkit.nn.layer import make_rng
from rnnkit.nn.recurrent import RECURRENT_LAYERS

ENCODERS = RECURRENT_LAYERS  # by the names the settings use
DECODERS = ("direct", "autoregressive")
NORMALIZATIONS = ("none", "last", "season")


def _check_levels(levels: list[float]) -> str | None:
    if not levels:
        return "expected at least one quantile level"
    if any(not 0.0 < q < 1.0 for q in levels):
        return f"every level must be in (0, 1), got {levels}"
    if sorted(set(levels)) != list(levels):
        return f"expected increasing levels without repeats, got {levels}"
    return None


@dataclass
class ForecasterConfig:
    """The architecture of a ``Forecaster``: its constructor's arguments, with defaults."""

    num_targets: int = derived(1, "target series per time step, set from the data", minimum=1)
    num_past_covariates: int = derived(0, "covariates known up to now, set from the data")
    num_future_covariates: int = derived(0, "covariates known ahead, set from the data")
    lookback: int = option(36, "past steps the model reads", minimum=1, maximum=1 << 20)
    horizon: int = option(12, "future steps it forecasts", minimum=1, maximum=1 << 16)
    hidden_size: int = option(32, "units per recurrent layer", minimum=1, maximum=1 << 16)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1, maximum=64)
    cell: str = option("lstm", "the recurrent layer", choices=tuple(ENCODERS))
    decoder: str = option(
        "direct",
        "all horizon steps at once from the encoder's state, or step by step feeding back "
        "each forecast (DeepAR-style)",
        choices=DECODERS,
    )
    loss: str = option(
        "gaussian",
        "the output: a point forecast trained on mse or mae, a Gaussian or Student-t "
        "distribution, or chosen quantiles (pinball loss)",
        choices=dl.LOSSES,
    )
    quantiles: list[float] = option(
        [0.1, 0.5, 0.9], "quantile levels of the quantile loss", check=_check_levels
    )
    dropout: float = option(0.0, "dropout between layers and before the head", minimum=0, below=1)
    normalize: str = option(
        "last",
        "read each window relative to its last value, and add back that value (last) or "
        "the value one season before each forecast step (season)",
        choices=NORMALIZATIONS,
    )
    season: int = option(
        0,
        "steps in a season, for normalize=season (0: from the dates' frequency)",
        minimum=0,
        maximum=1 << 16,
    )
    skip: bool = option(True, "the head also reads the lookback window itself (a linear skip path)")
    window_scale: bool = option(
        False,
        "divide each window by its standard deviation and scale the forecast back "
        "(RevIN-style): the intervals' width follows each window's own volatility",
    )
    window_mean: bool = option(
        False,
        "divide each window by the mean of its absolute values and scale the forecast back "
        "(DeepAR's mean scaling, per window): on a positive series read without log, the "
        "forecast change is proportional to the window's level",
        older_runs=False,
    )


DEFAULT = ForecasterConfig()


@dataclass
class Forecast:
    """What ``Forecaster.predict`` returns, in the model's (scaled) units.

    ``point`` ``(B, H, S)``: the mean (mse, gaussian, studentt) or median (mae, quantile), or
    the mean of the sampled paths for a probabilistic autoregressive model; ``quantiles``
    ``(B, H, S, len(levels))`` at ``levels``; ``samples`` ``(N, B, H, S)`` when drawn.
    """

    point: np.ndarray
    levels: tuple[float, ...]
    quantiles: np.ndarray
    samples: np.ndarray | None


class Forecaster(Configured, Layer):
    """Recurrent encoder and a direct or autoregressive decoder; see the module docstring."""

    config_class = ForecasterConfig

    def __init__(
        self,
        num_targets: int = DEFAULT.num_targets,
        num_past_covariates: int = DEFAULT.num_past_covariates,
        num_future_covariates: int = DEFAULT.num_future_covariates,
        lookback: int = DEFAULT.lookback,
        horizon: int = DEFAULT.horizon,
        hidden_size: int = DEFAULT.hidden_size,
        num_layers: int = DEFAULT.num_layers,
        cell: str = DEFAULT.cell,
        decoder: str = DEFAULT.decoder,
        loss: str = DEFAULT.loss,
        quantiles: list[float] | tuple[float, ...] = tuple(DEFAULT.quantiles),
        dropout: float = DEFAULT.dropout,
        normalize: str = DEFAULT.normalize,
        season: int = DEFAULT.season,
        skip: bool = DEFAULT.skip,
        window_scale: bool = DEFAULT.window_scale,
        window_mean: bool = DEFAULT.window_mean,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        config = ForecasterConfig(
            num_targets, num_past_covariates, num_future_covariates, lookback, horizon,
            hidden_size, num_layers, cell, decoder, loss, list(quantiles), dropout, normalize,
            season, skip, window_scale, window_mean,
        )  # fmt: skip
        validate(config)
        if window_scale and window_mean:
            raise ConfigError("window_mean", "give window_scale or window_mean, not both")
        if normalize == "season" and not 1 <= season <= lookback:
            needs = f"normalize=season needs 1 <= season <= lookback ({lookback})"
            raise ConfigError("season", f"{needs}, got {season}")
        self._config = config
        self.num_targets, self.lookback, self.horizon = num_targets, lookback, horizon
        self.num_past_covariates = num_past_covariates
        self.num_future_covariates = num_future_covariates
        self.loss_name, self.decoder_kind, self.normalize = loss, decoder, normalize
        self.season, self.skip, self.window_scale = season, bool(skip), bool(window_scale)
        self.window_mean = bool(window_mean)
        # either divisor puts the head's outputs in each window's units
        self.per_window = self.window_scale or self.window_mean
        self._window_units: tuple[np.ndarray, np.ndarray] | None = None
        self.levels = tuple(config.quantiles) if loss == "quantile" else ()
        self.num_params = dl.num_params(loss, self.levels)
        self.rng = make_rng(rng)
        kind = ENCODERS[cell]
        inter_layer = dropout if num_layers > 1 else 0.0
        inputs = num_targets + num_past_covariates + num_future_covariates
        options = {"dropout": inter_layer, "dtype": dtype, "rng": self.rng}
        self.add_layer("encoder", kind(inputs, hidden_size, num_layers, **options))
        step_outputs = num_targets * self.num_params
        if decoder == "autoregressive":
            decoder_inputs = num_targets + num_future_covariates
            self.add_layer("decoder", kind(decoder_inputs, hidden_size, num_layers, **options))
            window = lookback * num_targets if skip else 0
            head = Linear(hidden_size + window, step_outputs, dtype=dtype, rng=self.rng)
        else:
            features = hidden_size + horizon * num_future_covariates
            features += lookback * num_targets if skip else 0
            head = Linear(features, horizon * step_outputs, dtype=dtype, rng=self.rng)
        self.add_layer("dropout", Dropout(dropout, rng=self.rng))
        self.add_layer("head", head)
        self.dtype = self.encoder.dtype
        self._batch = 0

    def config(self) -> ForecasterConfig:
        """The architecture; ``Forecaster.from_config(model.config())`` rebuilds it."""
        return ForecasterConfig(**to_dict(self._config))

    # -- inputs ------------------------------------------------------------------------------

    def _array(self, name: str, value: Any, batch: int, steps: int, width: int) -> np.ndarray:
        if value is None:
            if width:
                raise ValueError(f"{name}: the model was built for {width} columns, got None")
            return np.zeros((batch, steps, 0), self.dtype)
        value = np.asarray(value, dtype=self.dtype)
        if value.shape != (batch, steps, width):
            raise ValueError(f"{name}: expected shape {(batch, steps, width)}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name}: holds NaN or infinite values")
        return value

    def _inputs(self, past_target, past_covariates, future_covariates, future_target=None):
        past_target = np.asarray(past_target, dtype=self.dtype)
        if past_target.ndim != 3:
            raise ValueError(
                f"past_target: expected shape (batch, {self.lookback}, {self.num_targets}), "
                f"got {past_target.shape}"
            )
        B, L, S, H = past_target.shape[0], self.lookback, self.num_targets, self.horizon
        past_target = self._array("past_target", past_target, B, L, S)
        past = self._array("past_covariates", past_covariates, B, L, self.num_past_covariates)
        future = self._array(
            "future_covariates", future_covariates, B, L + H, self.num_future_covariates
        )
        if future_target is not None:
            future_target = self._array("future_target", future_target, B, H, S)
        return past_target, past, future, future_target

    # -- forward / backward ------------------------------------------------------------------

    def _encode(self, past_target: np.ndarray, past: np.ndarray, future: np.ndarray) -> Any:
        x = np.concatenate([past_target, past, future[:, : self.lookback]], axis=2)
        _, state = self.encoder.forward(np.ascontiguousarray(x.transpose(1, 0, 2)))
        return state

    def forward(
        self,
        past_target: Any,
        past_covariates: Any = None,
        future_covariates: Any = None,
        future_target: Any = None,
    ) -> np.ndarray:
        """Raw distribution parameters ``(B, H, S, P)``; shapes in the module docstring.

        The autoregressive decoder needs ``future_target`` (teacher forcing); the direct
        head ignores it.
        """
        past_target, past, future, future_target = self._inputs(
            past_target, past_covariates, future_covariates, future_target
        )
        B, L, H, S = past_target.shape[0], self.lookback, self.horizon, self.num_targets
        self._batch = B
        shift_in, shift_out = self._offsets(past_target)
        spread = self._spread(past_target)
        past_target = (past_target - shift_in) / spread
        state = self._encode(past_target, past, future)
        if self.decoder_kind == "direct":
            top = (state[0] if isinstance(state, tuple) else state)[-1]
            parts = [top, future[:, L:].reshape(B, -1)]
            if self.skip:
                parts.append(past_target.reshape(B, -1))
            raw = self.head.forward(self.dropout.forward(np.concatenate(parts, axis=1)))
        else:
            if future_target is None:
                raise ValueError("future_target: the autoregressive decoder is teacher-forced")
            previous = np.concatenate(
                [past_target[:, -1:], (future_target[:, :-1] - shift_in) / spread], axis=1
            )
            d = np.concatenate([previous, future[:, L:]], axis=2).transpose(1, 0, 2)
            output, _ = self.decoder.forward(np.ascontiguousarray(d), state)
            if self.skip:
                window = np.broadcast_to(past_target.reshape(1, B, -1), (H, B, L * S))
                output = np.concatenate([output, window], axis=2)
            raw = self.head.forward(self.dropout.forward(output)).transpose(1, 0, 2)
        raw = raw.reshape(B, H, self.num_targets, self.num_params)
        if self.per_window:
            self._window_units = (shift_out, spread)
            return raw
        return self._shifted(raw, shift_out)

    def _spread(self, past_target: np.ndarray) -> np.ndarray:
        """``(B, 1, S)``: each window's ``s`` with ``window_scale`` or ``window_mean``, ones
        otherwise."""
        if self.window_mean:
            return (np.abs(past_target).mean(axis=1, keepdims=True) + 1e-5).astype(self.dtype)
        if not self.window_scale:
            return np.ones_like(past_target[:, -1:])
        return np.sqrt(past_target.var(axis=1, keepdims=True) + 1e-5).astype(self.dtype)

    def _to_data(self, values: np.ndarray, extra_axes: int = 0) -> np.ndarray:
        """VALUES in the last forward's window units (``(..., B, H, S)`` plus EXTRA_AXES
        trailing axes) as ``y = b_h + s * z``; unchanged without a per-window divisor."""
        if not self.per_window:
            return values
        shift, spread = self._window_units
        index = (...,) + (None,) * extra_axes
        return values * spread[index] + shift[index]

    def _offsets(self, past_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(a (B, 1, S), b (B, H, S))``: what ``normalize`` subtracts from the window and
        adds to each forecast step (zeros for "none"; see the module docstring)."""
        last = past_target[:, -1:]
        if self.normalize == "none":
            zeros = np.zeros_like(last)
            return zeros, np.repeat(zeros, self.horizon, axis=1)
        if self.normalize == "last":
            return last, np.repeat(last, self.horizon, axis=1)
        s = self.season
        return last, past_target[:, self.lookback - s + np.arange(self.horizon) % s]

    def _shifted(self, raw: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """RAW ``(B, H, S, P)`` with OFFSET ``(B, H, S)`` added to its location parameters."""
        if self.normalize == "none":
            return raw
        raw = raw.copy()
        locations = slice(None) if self.loss_name == "quantile" else slice(0, 1)
        raw[..., locations] += offset[..., None]
        return raw

    def backward(self, grad_raw: np.ndarray) -> None:
        """Add every parameter's gradient, given ``dL/draw`` ``(B, H, S, P)``."""
        B, H = self._batch, self.horizon
        grad_raw = np.asarray(grad_raw, dtype=self.dtype)
        expected = (B, H, self.num_targets, self.num_params)
        if grad_raw.shape != expected:
            raise ValueError(f"grad_raw: expected shape {expected}, got {grad_raw.shape}")
        encoder = self.encoder
        if self.decoder_kind == "direct":
            grad_features = self.dropout.backward(self.head.backward(grad_raw.reshape(B, -1)))
            grad_h = np.zeros((encoder.num_layers, B, encoder.hidden_size), self.dtype)
            grad_h[-1] = grad_features[:, : encoder.hidden_size]
            grad_state = (grad_h, np.zeros_like(grad_h)) if isinstance(encoder, LSTM) else grad_h
        else:
            grad_steps = grad_raw.reshape(B, H, -1).transpose(1, 0, 2)
            grad_output = self.dropout.backward(self.head.backward(grad_steps))
            hidden = self.decoder.hidden_size  # the window's columns need no gradient
            _, grad_state = self.decoder.backward(np.ascontiguousarray(grad_output[..., :hidden]))
        zeros = np.zeros((self.lookback, B, encoder.hidden_size), self.dtype)
        encoder.backward(zeros, grad_state)

    def loss(self, raw: np.ndarray, future_target: Any) -> tuple[float, np.ndarray]:
        """``(loss, dL/draw)``: the head's mean loss against ``future_target`` ``(B, H, S)``
        (with ``window_scale`` or ``window_mean``, RAW is the last forward's and the target
        goes into its windows' units)."""
        target = np.asarray(future_target, raw.dtype)
        if self.per_window:
            if self._window_units is None or self._window_units[0].shape != target.shape:
                raise ValueError(
                    "future_target: with a per-window divisor, score the last forward's"
                )
            shift, spread = self._window_units
            target = (target - shift) / spread
        return dl.distribution_loss(self.loss_name, raw, target, self.levels)

    def loss_and_backward(
        self,
        past_target: Any,
        past_covariates: Any,
        future_covariates: Any,
        future_target: Any,
    ) -> float:
        """The batch's mean loss; its gradients are added into ``grads``."""
        raw = self.forward(past_target, past_covariates, future_covariates, future_target)
        loss, grad = self.loss(raw, future_target)
        self.backward(grad)
        return loss

    # -- prediction --------------------------------------------------------------------------

    def predict(
        self,
        past_target: Any,
        past_covariates: Any = None,
        future_covariates: Any = None,
        levels: tuple[float, ...] = (0.1, 0.5, 0.9),
        num_samples: int = 100,
        rng: np.random.Generator | int | None = None,
        paths: bool = False,
    ) -> Forecast:
        """Point forecast, quantiles at LEVELS and (where needed) sample paths; see ``Forecast``.

        Runs in evaluation mode (no dropout, nothing cached) and restores the mode after.
        Quantiles are exact for the direct Gaussian and quantile heads (the latter
        interpolated between the trained levels) and empirical from ``num_samples`` paths
        otherwise; a point model (mse, mae) has no spread, so all its quantiles equal its
        point forecast. With PATHS the direct Gaussian and quantile heads draw
        ``num_samples`` paths too (each step independently, as ``sample_paths``), for what
        exact marginal quantiles cannot give: quantiles of sums, a CRPS from samples.
        """
        problem = _check_levels(list(levels))
        if problem:
            raise ValueError(f"levels: {problem}")
        rng = make_rng(rng)
        was_training = self.training
        self.eval()
        try:
            past_target, past, future, _ = self._inputs(
                past_target, past_covariates, future_covariates
            )
            if self.decoder_kind == "direct":
                return self._predict_direct(
                    past_target, past, future, levels, num_samples, rng, paths
                )
            return self._predict_paths(past_target, past, future, levels, num_samples, rng)
        finally:
            self.train(was_training)

    def _predict_direct(
        self, past_target, past, future, levels, num_samples, rng, paths=False
    ) -> Forecast:
        raw = self.forward(past_target, past, future)
        point = dl.point_forecast(self.loss_name, raw, self.levels)
        samples = None
        if paths and self.loss_name in ("gaussian", "quantile"):
            samples = dl.sample_paths(self.loss_name, raw, num_samples, rng, self.levels)
        if self.loss_name == "gaussian":
            quantiles = dl.gaussian_quantiles(raw, levels)
        elif self.loss_name == "quantile":
            quantiles = np.stack(
                [dl.quantile_function(raw, self.levels, np.full(point.shape, q)) for q in levels],
                axis=-1,
            )
        elif self.loss_name == "studentt":
            samples = dl.sample_paths(self.loss_name, raw, num_samples, rng, self.levels)
            quantiles = dl.sample_quantiles(samples, levels)
        else:
            quantiles = np.repeat(point[..., None], len(levels), axis=-1)
        if samples is not None:
            samples = self._to_data(samples)
        point, quantiles = self._to_data(point), self._to_data(quantiles, extra_axes=1)
        return Forecast(point, tuple(levels), quantiles, samples)

    def _predict_paths(self, past_target, past, future, levels, num_samples, rng) -> Forecast:
        B, L, S = past_target.shape[0], self.lookback, self.num_targets
        point_model = self.loss_name in ("mse", "mae")  # no spread: one path is the forecast
        paths = 1 if point_model else num_samples

        def repeat(state: np.ndarray) -> np.ndarray:
            return np.repeat(state, paths, axis=1)  # row b * paths + n

        shift_in, shift_out = self._offsets(past_target)  # (B, 1, S), (B, H, S)
        spread = self._spread(past_target)  # (B, 1, S)
        past_target = (past_target - shift_in) / spread
        # a draw of step k is relative to shift_out[k]; the decoder reads it relative to shift_in
        feed_shift = np.repeat((shift_out - shift_in) / spread, paths, axis=0)  # (B * paths, H, S)
        state = self._encode(past_target, past, future)
        state = tuple(map(repeat, state)) if isinstance(state, tuple) else repeat(state)
        previous = np.repeat(past_target[:, -1], paths, axis=0)  # (B * paths, S)
        known = np.repeat(future[:, L:], paths, axis=0)  # (B * paths, H, Cf)
        window = np.repeat(past_target.reshape(B, -1), paths, axis=0) if self.skip else None
        draws = np.empty((B * paths, self.horizon, S), self.dtype)
        for k in range(self.horizon):
            d = np.concatenate([previous, known[:, k]], axis=1)[None]
            output, state = self.decoder.forward(d, state)
            features = output[0] if window is None else np.concatenate([output[0], window], 1)
            raw = self.head.forward(features).reshape(B * paths, S, self.num_params)
            draws[:, k] = dl.sample(self.loss_name, raw, rng, self.levels)
            previous = draws[:, k] + feed_shift[:, k]
        samples = draws.reshape(B, paths, self.horizon, S).transpose(1, 0, 2, 3)
        samples = samples * spread + shift_out
        if point_model:
            point = samples[0]
            return Forecast(
                point, tuple(levels), np.repeat(point[..., None], len(levels), -1), None
            )
        point = np.mean(samples, axis=0)
        if self.loss_name == "quantile":
            point = np.median(samples, axis=0)
        return Forecast(point, tuple(levels), dl.sample_quantiles(samples, levels), samples)
