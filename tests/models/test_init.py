"""``rnnkit.models``: every model built from settings comes with its settings dataclass."""

from __future__ import annotations

import importlib
import pkgutil

import rnnkit.models
from rnnkit.models.configured import Configured


def test_every_configured_model_and_its_settings_are_exported() -> None:
    found = set()
    for module in pkgutil.iter_modules(rnnkit.models.__path__):
        members = vars(importlib.import_module(f"rnnkit.models.{module.name}")).values()
        models = [v for v in members if isinstance(v, type) and issubclass(v, Configured)]
        found.update(model for model in models if model is not Configured)
    assert len(found) >= 6  # language model, classifier, tagger, seq2seq, forecaster, generator
    for model in found:
        assert getattr(rnnkit.models, model.__name__, None) is model, model.__name__
        settings = model.config_class
        assert getattr(rnnkit.models, settings.__name__, None) is settings, settings.__name__
        assert {model.__name__, settings.__name__} <= set(rnnkit.models.__all__)
