"""Settings dataclasses: checking, JSON round trips, and what a resume may change."""

from dataclasses import dataclass, field

import pytest

from rnnkit.config import (
    CHANGEABLE,
    ConfigError,
    derived,
    fixed_differences,
    from_dict,
    keep_auto_choices,
    option,
    to_dict,
    validate,
)
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig


@dataclass
class Inner:
    size: int = option(4, "a size", minimum=1)
    rate: float = option(0.1, "a rate", minimum=0, below=1, on_resume=CHANGEABLE)


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    name: str = option("lstm", "a cell", choices=("lstm", "gru"))
    limit: int | None = option(None, "optional", minimum=1)
    seen: int = derived(0, "set by the program")
    quantiles: list[float] = option([0.1, 0.9], "levels", minimum=0, maximum=1)


def test_round_trip_keeps_every_value():
    config = Outer(Inner(7, 0.5), "gru", 3, 9, [0.5])
    assert from_dict(Outer, to_dict(config)) == config


@pytest.mark.parametrize(
    ("edit", "parameter"),
    [
        (lambda d: d["inner"].update(size=0), "inner.size"),
        (lambda d: d["inner"].update(size=2.0), "inner.size"),
        (lambda d: d["inner"].update(size=True), "inner.size"),
        (lambda d: d["inner"].update(rate=1.0), "inner.rate"),
        (lambda d: d["inner"].update(rate=float("nan")), "inner.rate"),
        (lambda d: d.update(name="transformer"), "name"),
        (lambda d: d.update(name=None), "name"),
        (lambda d: d.update(limit=-1), "limit"),
        # no maximum, but past int64: NumPy could not hold it (a traceback at a later save)
        (lambda d: d.update(limit=2**63), "limit"),
        (lambda d: d.update(quantiles=[2.0]), "quantiles"),
        (lambda d: d.update(quantiles="0.5"), "quantiles"),
        (lambda d: d.pop("seen"), "seen"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.update(inner=[]), "inner"),
    ],
)
def test_a_bad_value_is_refused_by_name(edit, parameter):
    data = to_dict(Outer())
    edit(data)
    with pytest.raises(ConfigError) as caught:
        from_dict(Outer, data)
    assert caught.value.parameter == parameter
    assert str(caught.value).startswith(parameter + ":")


def test_none_is_allowed_only_where_the_type_says():
    data = to_dict(Outer())
    data["limit"] = None
    assert from_dict(Outer, data).limit is None


def test_fixed_differences_ignore_changeable_fields():
    saved = Outer()
    given = Outer(Inner(4, 0.5))
    assert fixed_differences(saved, given) == []
    given.inner.size = 8
    given.name = "gru"
    assert fixed_differences(saved, given) == [("inner.size", 4, 8), ("name", "lstm", "gru")]


@dataclass
class Chosen:
    kind: str = option("auto", "a kind", choices=("auto", "word", "char"))
    tokens: str = option(
        "auto", "a kind one may change", choices=("auto", "word"), on_resume=CHANGEABLE
    )
    name: str = option("lstm", "a cell", choices=("lstm", "gru"))


def test_auto_given_on_resume_keeps_the_saved_choice_of_a_fixed_setting():
    saved = Chosen("char", "word", "gru")
    given = Chosen()  # every auto left as it is given, name back to its default
    keep_auto_choices(saved, given)
    assert (given.kind, given.tokens, given.name) == ("char", "auto", "lstm")
    assert fixed_differences(saved, given) == [("name", "gru", "lstm")]


def test_validate_checks_a_built_config():
    with pytest.raises(ConfigError, match="hidden_size"):
        validate(LanguageModelConfig(vocab_size=5, hidden_size=0))


def test_model_round_trips_through_its_config():
    model = LanguageModel(11, embedding_size=6, hidden_size=6, cell="gru", tie_weights=True)
    rebuilt = LanguageModel.from_config(from_dict(LanguageModelConfig, to_dict(model.config())))
    assert rebuilt.config() == model.config()
    assert list(rebuilt.state_dict()) == list(model.state_dict())


@dataclass
class Grown:
    size: int = option(4, "a size", minimum=1)
    decay: str = option("cosine", "added later", choices=("none", "cosine"), older_runs="none")


def test_a_setting_added_later_reads_as_older_runs_trained_where_missing():
    saved = {"size": 7}  # written before ``decay`` existed
    assert from_dict(Grown, saved) == Grown(7, "none")
    assert from_dict(Grown, {"size": 7, "decay": "cosine"}) == Grown(7, "cosine")
    with pytest.raises(ConfigError, match="^size: missing$"):
        from_dict(Grown, {"decay": "none"})  # only the settings added later may be missing
    with pytest.raises(ConfigError, match="decay: expected one of"):
        from_dict(Grown, {"size": 7, "decay": "linear"})


def test_an_integer_bound_is_written_in_full():
    @dataclass
    class Sized:
        length: int = option(500, "a length", minimum=1, maximum=1 << 20)
        rate: float = option(0.1, "a rate", minimum=1e-12, below=1)

    # ":g" wrote the maximum as 1.04858e+06: neither exact nor what a user types
    with pytest.raises(ConfigError, match=r"^length: must be at most 1048576, got 9999999$"):
        from_dict(Sized, {"length": 9999999, "rate": 0.1})
    with pytest.raises(ConfigError, match=r"^rate: must be at least 1e-12, got 0.0$"):
        from_dict(Sized, {"length": 5, "rate": 0.0})
