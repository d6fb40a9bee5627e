"""Forecaster: the torch oracle (float64) for both decoders and every head, autoregressive
sampling fed back step by step, predictions, config round trip, bad input, and learning."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from rnnkit.config import ConfigError
from rnnkit.models.forecaster import Forecaster
from rnnkit.nn.distribution_losses import LOSSES, scale_of
from rnnkit.optim import Adam
from tests.gradcheck import assert_close
from tests.nn.test_distribution_losses import torch_loss

TOLERANCE = 1e-8
B, L, H, S, CP, CF = 3, 5, 4, 2, 1, 2


def make_model(**options) -> Forecaster:
    settings = {
        "num_targets": S, "num_past_covariates": CP, "num_future_covariates": CF,
        "lookback": L, "horizon": H, "hidden_size": 6, "loss": "gaussian",
        "quantiles": [0.1, 0.5, 0.9], "dtype": np.float64, "rng": 0,
    }  # fmt: skip
    settings.update(options)
    return Forecaster(**settings)


def batch(model: Forecaster, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    S, CP, CF = model.num_targets, model.num_past_covariates, model.num_future_covariates
    return {
        "past_target": rng.standard_normal((B, L, S)),
        "past_covariates": rng.standard_normal((B, L, CP)) if CP else None,
        "future_covariates": rng.standard_normal((B, L + H, CF)) if CF else None,
        "future_target": rng.standard_normal((B, H, S)),
    }


def torch_forecaster(torch: ModuleType, model: Forecaster) -> object:
    """The same network in torch, with ``model``'s weights."""
    kind = getattr(torch.nn, type(model.encoder).__name__)
    hidden, layers = model.encoder.hidden_size, model.encoder.num_layers
    S, CF, P = model.num_targets, model.num_future_covariates, model.num_params

    class Twin(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            options = {"dtype": torch.float64}
            self.encoder = kind(model.encoder.input_size, hidden, layers, **options)
            window = L * S if model.skip else 0
            if model.decoder_kind == "autoregressive":
                self.decoder = kind(S + CF, hidden, layers, **options)
                self.head = torch.nn.Linear(hidden + window, S * P, **options)
            else:
                self.head = torch.nn.Linear(hidden + H * CF + window, H * S * P, **options)

        def forward(self, past_target, past_covariates, future_covariates, future_target):
            n = past_target.shape[0]
            shifted = model.normalize != "none"
            offset = past_target[:, -1:] * shifted  # (n, 1, S)
            after = offset.expand(n, H, S)  # added to the outputs
            if model.normalize == "season":  # the value one season before each step
                after = torch.stack(
                    [past_target[:, L - model.season + h % model.season] for h in range(H)], 1
                )
            spread = torch.ones_like(offset)
            if model.window_scale:
                spread = torch.sqrt(past_target.var(dim=1, keepdim=True, unbiased=False) + 1e-5)
            if model.window_mean:
                spread = past_target.abs().mean(dim=1, keepdim=True) + 1e-5
            self.loss_target = (future_target - after) / spread  # the window's units
            past_target = (past_target - offset) / spread
            future_target = (future_target - offset) / spread
            x = torch.cat([past_target, past_covariates, future_covariates[:, :L]], 2)
            _, state = self.encoder(x.transpose(0, 1))
            if model.decoder_kind == "direct":
                top = (state[0] if isinstance(state, tuple) else state)[-1]
                parts = [top, future_covariates[:, L:].reshape(n, -1)]
                if model.skip:
                    parts.append(past_target.reshape(n, -1))
                raw = self.head(torch.cat(parts, 1))
            else:
                previous = torch.cat([past_target[:, -1:], future_target[:, :-1]], 1)
                d = torch.cat([previous, future_covariates[:, L:]], 2).transpose(0, 1)
                output, _ = self.decoder(d, state)
                if model.skip:
                    window = past_target.reshape(1, n, -1).expand(H, n, L * S)
                    output = torch.cat([output, window], 2)
                raw = self.head(output).transpose(0, 1)
            raw = raw.reshape(n, H, S, P)
            if model.per_window:
                return raw
            if model.loss_name == "quantile":
                return raw + after[..., None]
            return torch.cat([raw[..., :1] + after[..., None], raw[..., 1:]], dim=-1)

    twin = Twin()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    return twin


def check_against_torch(torch: ModuleType, model: Forecaster) -> None:
    data = batch(model)
    model.zero_grad()
    loss = model.loss_and_backward(**data)
    twin = torch_forecaster(torch, model)
    empty = {"past_covariates": (B, L, 0), "future_covariates": (B, L + H, 0)}
    inputs = {k: torch.from_numpy(np.zeros(empty[k]) if v is None else v) for k, v in data.items()}
    raw = twin(**inputs)
    target = twin.loss_target if model.per_window else inputs["future_target"]
    theirs = torch_loss(torch, model.loss_name, raw, target, quantiles=model.levels)
    theirs.backward()
    assert abs(loss - theirs.item()) <= TOLERANCE * max(1.0, abs(theirs.item()))
    assert_close(model.forward(**data), raw, TOLERANCE)
    named = dict(twin.named_parameters())
    assert set(named) == set(model.grads)
    for name, grad in model.grads.items():
        assert_close(grad, named[name].grad, TOLERANCE)


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("loss", LOSSES)
def test_every_head_matches_torch(torch: ModuleType, loss: str, decoder: str) -> None:
    check_against_torch(torch, make_model(loss=loss, decoder=decoder))


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_every_cell_stacked_matches_torch(torch: ModuleType, cell: str, decoder: str) -> None:
    check_against_torch(torch, make_model(cell=cell, decoder=decoder, num_layers=2))


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("loss", ["studentt", "quantile"])
def test_last_value_normalization_matches_torch(torch: ModuleType, loss: str, decoder: str) -> None:
    check_against_torch(torch, make_model(loss=loss, decoder=decoder, normalize="last"))


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("loss", ["gaussian", "quantile", "mae"])
def test_seasonal_normalization_matches_torch(torch: ModuleType, loss: str, decoder: str) -> None:
    """normalize=season with a season shorter than the horizon (steps wrap around)."""
    check_against_torch(
        torch, make_model(loss=loss, decoder=decoder, normalize="season", season=3)
    )


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("loss", LOSSES)
def test_window_skip_matches_torch(torch: ModuleType, loss: str, decoder: str) -> None:
    check_against_torch(torch, make_model(loss=loss, decoder=decoder, skip=True, normalize="last"))
    check_against_torch(
        torch, make_model(loss=loss, decoder=decoder, skip=True, num_layers=2, cell="gru")
    )


def test_autoregressive_paths_with_the_window_skip_feed_back_their_draws() -> None:
    """As without the skip: teacher-forcing the model on its own sampled path gives back
    the Gaussian it drew each step from (the window reaches every step's head)."""
    model = make_model(decoder="autoregressive", skip=True, normalize="season", season=2)
    data = batch(model)
    inputs = {k: data[k] for k in ("past_target", "past_covariates", "future_covariates")}
    path = model.predict(**inputs, num_samples=1, rng=5).samples[0]
    model.eval()
    raw = model.forward(**inputs, future_target=path)
    rng = np.random.default_rng(5)
    for k in range(H):
        eps = rng.standard_normal((B, S))
        np.testing.assert_allclose(path[:, k], raw[:, k, :, 0] + scale_of(raw[:, k, :, 1]) * eps)


@pytest.mark.parametrize("divisor", ["window_scale", "window_mean"])
@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("loss", LOSSES)
def test_per_window_divisors_match_torch(
    torch: ModuleType, loss: str, decoder: str, divisor: str
) -> None:
    check_against_torch(torch, make_model(loss=loss, decoder=decoder, **{divisor: True}))
    check_against_torch(
        torch,
        make_model(loss=loss, decoder=decoder, normalize="season", season=3, **{divisor: True}),
    )


def test_window_scale_forecasts_follow_the_window_affinely() -> None:
    """With window_scale and last-value normalisation, c * y + d in gives c * forecast + d
    out: points and quantiles (the intervals widen with the window's spread)."""
    for decoder, loss in (("direct", "gaussian"), ("direct", "studentt"),
                          ("autoregressive", "gaussian")):  # fmt: skip
        model = make_model(decoder=decoder, loss=loss, normalize="last", window_scale=True)
        data = batch(model)
        del data["future_target"]
        # windows far above the 1e-5 inside s, so that it changes nothing visible
        wide = {**data, "past_target": 1000.0 * data["past_target"]}
        base = model.predict(**wide, num_samples=30, rng=3)
        moved = model.predict(**{**wide, "past_target": 10.0 * wide["past_target"] - 2.0},
                              num_samples=30, rng=3)  # fmt: skip
        np.testing.assert_allclose(moved.point, 10.0 * base.point - 2.0, rtol=1e-7)
        np.testing.assert_allclose(moved.quantiles, 10.0 * base.quantiles - 2.0, rtol=1e-7)


def test_window_mean_divides_by_the_mean_absolute_value() -> None:
    """s by hand: the window (-1, 2, 3) of one series and (4, 4, 4) of another."""
    model = make_model(lookback=3, window_mean=True)
    window = np.array([[[-1.0, 4.0], [2.0, 4.0], [3.0, 4.0]]])
    np.testing.assert_allclose(model._spread(window), [[[2.0 + 1e-5, 4.0 + 1e-5]]], rtol=1e-12)


def test_window_mean_forecasts_scale_with_the_window() -> None:
    """With window_mean, c * y in (c > 0) gives c * forecast out: points and quantiles
    (a level c times higher has c times the change and c times the interval)."""
    for decoder, loss in (("direct", "gaussian"), ("direct", "quantile"),
                          ("autoregressive", "gaussian")):  # fmt: skip
        for normalize in ("last", "season"):
            model = make_model(decoder=decoder, loss=loss, normalize=normalize, season=3,
                               window_mean=True)  # fmt: skip
            data = batch(model)
            del data["future_target"]
            # windows far above the 1e-5 inside s, so that it changes nothing visible
            level = {**data, "past_target": 1000.0 * (3.0 + data["past_target"])}
            base = model.predict(**level, num_samples=30, rng=3)
            moved = model.predict(**{**level, "past_target": 7.0 * level["past_target"]},
                                  num_samples=30, rng=3)  # fmt: skip
            # 1e-6: the 1e-5 inside s is 3e-9 of it here, rounding of the sampled paths more
            np.testing.assert_allclose(moved.point, 7.0 * base.point, rtol=1e-6)
            np.testing.assert_allclose(moved.quantiles, 7.0 * base.quantiles, rtol=1e-6)


def test_window_scale_and_window_mean_are_exclusive() -> None:
    with pytest.raises(ConfigError, match="window_mean"):
        make_model(window_scale=True, window_mean=True)


def test_window_scale_loss_needs_the_last_forward() -> None:
    model = make_model(window_scale=True)
    data = batch(model)
    with pytest.raises(ValueError, match="last forward"):
        model.loss(np.zeros((B, H, S, 2)), data["future_target"])


def test_seasonal_normalization_adds_the_value_one_season_before() -> None:
    """A network that outputs zeros forecasts exactly the seasonal naive: step h repeats
    y_{L-s+(h mod s)}, for the direct head and for the sampled paths."""
    for decoder in ("direct", "autoregressive"):
        model = make_model(decoder=decoder, loss="mse", normalize="season", season=3)
        for name in model.params:
            if name.startswith("head."):
                model.params[name][...] = 0.0
        data = batch(model)
        del data["future_target"]
        expected = data["past_target"][:, [L - 3, L - 2, L - 1, L - 3]]
        np.testing.assert_allclose(model.predict(**data).point, expected)


def test_season_is_checked() -> None:
    with pytest.raises(ConfigError, match="season"):
        make_model(normalize="season", season=L + 1)
    with pytest.raises(ConfigError, match="season"):
        make_model(normalize="season", season=0)


def test_last_value_normalization_shifts_forecasts_with_the_level() -> None:
    """Adding c to a window's targets adds c to every forecast (and nothing else changes)."""
    for decoder in ("direct", "autoregressive"):
        model = make_model(decoder=decoder, loss="quantile", normalize="last")
        data = batch(model)
        del data["future_target"]
        base = model.predict(**data, num_samples=20, rng=3)
        moved = model.predict(**{**data, "past_target": data["past_target"] + 5.0},
                              num_samples=20, rng=3)  # fmt: skip
        np.testing.assert_allclose(moved.point, base.point + 5.0)
        np.testing.assert_allclose(moved.quantiles, base.quantiles + 5.0)


def test_without_covariates_matches_torch(torch: ModuleType) -> None:
    model = make_model(num_targets=1, num_past_covariates=0, num_future_covariates=0)
    check_against_torch(torch, model)
    check_against_torch(torch, make_model(decoder="autoregressive", num_past_covariates=0))


def test_autoregressive_paths_feed_back_their_own_draws() -> None:
    """Each step's draw is mu + sigma * eps of the step's distribution given the path so far:
    teacher-forcing the model on a sampled path gives back the parameters it drew from."""
    model = make_model(decoder="autoregressive", loss="gaussian", normalize="last")
    data = batch(model)
    forecast = model.predict(
        data["past_target"], data["past_covariates"], data["future_covariates"],
        num_samples=1, rng=7,
    )  # fmt: skip
    path = forecast.samples[0]
    model.eval()
    raw = model.forward(**{**data, "future_target": path})
    rng = np.random.default_rng(7)
    for k in range(H):
        eps = rng.standard_normal((B, S))
        np.testing.assert_allclose(path[:, k], raw[:, k, :, 0] + scale_of(raw[:, k, :, 1]) * eps)


def test_autoregressive_point_model_forecasts_its_own_path() -> None:
    model = make_model(decoder="autoregressive", loss="mse")
    data = batch(model)
    inputs = {k: data[k] for k in ("past_target", "past_covariates", "future_covariates")}
    forecast = model.predict(**inputs)
    model.eval()
    raw = model.forward(**inputs, future_target=forecast.point)
    np.testing.assert_allclose(forecast.point, raw[..., 0])
    assert forecast.samples is None
    np.testing.assert_array_equal(forecast.quantiles[..., 1], forecast.point)


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("loss", LOSSES)
def test_predict_shapes_and_ordered_quantiles(loss: str, decoder: str) -> None:
    model = make_model(loss=loss, decoder=decoder)
    data = batch(model)
    del data["future_target"]
    forecast = model.predict(**data, levels=(0.1, 0.5, 0.9), num_samples=50, rng=0)
    assert forecast.point.shape == (B, H, S)
    assert forecast.quantiles.shape == (B, H, S, 3)
    assert np.all(np.diff(forecast.quantiles, axis=-1) >= 0)
    if forecast.samples is not None:
        assert forecast.samples.shape == (50, B, H, S)
    assert model.training  # the mode is restored


def test_direct_gaussian_median_is_the_mean() -> None:
    model = make_model()
    data = batch(model)
    del data["future_target"]
    forecast = model.predict(**data, levels=(0.5,))
    np.testing.assert_allclose(forecast.quantiles[..., 0], forecast.point)


def test_config_round_trip_and_state_names() -> None:
    model = make_model(decoder="autoregressive", cell="gru", loss="quantile")
    rebuilt = Forecaster.from_config(model.config(), dtype=np.float64)
    assert rebuilt.config() == model.config()
    assert sorted(rebuilt.params) == sorted(model.params)
    assert "decoder.weight_hh_l0" in model.params and "head.bias" in model.params


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"horizon": 0}, "horizon: must be at least 1"),
        ({"loss": "poisson"}, "loss: expected one of"),
        ({"quantiles": [0.9, 0.1], "loss": "quantile"}, "quantiles: expected increasing"),
        ({"decoder": "seq2seq"}, "decoder: expected one of"),
    ],
)
def test_bad_settings_name_the_parameter(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_model(**options)


def test_bad_inputs_name_the_argument() -> None:
    model = make_model(decoder="autoregressive")
    data = batch(model)
    with pytest.raises(ValueError, match=r"past_target: expected shape \(3, 5, 2\)"):
        model.forward(**{**data, "past_target": data["past_target"][:, 1:]})
    with pytest.raises(ValueError, match="future_covariates: the model was built for 2"):
        model.forward(**{**data, "future_covariates": None})
    with pytest.raises(ValueError, match="future_target: the autoregressive decoder"):
        model.forward(**{**data, "future_target": None})
    bad = data["past_covariates"].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="past_covariates: holds NaN"):
        model.forward(**{**data, "past_covariates": bad})


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_learns_a_sine_better_than_repeating_the_last_value(decoder: str) -> None:
    """A noiseless sine of period 8: after training, the forecast beats persistence by far."""
    t = np.arange(400)
    series = np.sin(2 * np.pi * t / 8)
    starts = np.arange(0, 400 - 16)
    windows = np.stack([series[s : s + 16] for s in starts])[..., None]
    past, future = windows[:, :8], windows[:, 8:12]
    model = Forecaster(lookback=8, horizon=4, hidden_size=16, loss="mse", decoder=decoder, rng=0)
    optimizer = Adam(model.params, model.grads, lr=0.02)
    rng = np.random.default_rng(0)
    for _ in range(150):
        rows = rng.choice(len(starts), 32, replace=False)
        model.zero_grad()
        model.loss_and_backward(past[rows], None, None, future[rows])
        optimizer.step()
    point = model.predict(past[:64]).point
    error = np.mean((point - future[:64]) ** 2)
    persistence = np.mean((past[:64, -1:] - future[:64]) ** 2)
    assert error < 0.05 * persistence
