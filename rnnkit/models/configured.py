"""What every model shares about its settings dataclass: built from it, and described by it.

A model names its settings dataclass in ``config_class``; its constructor takes the same
keyword arguments as the dataclass's fields. ``from_config`` checks the settings and builds
the model; ``config()`` reads them back from the model's attributes of the same names
(``config_attributes`` maps a field to another attribute where a sub-layer holds the name,
e.g. ``dropout`` -> ``dropout_p`` beside the ``dropout`` layer).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rnnkit.config import to_dict, validate


class Configured:
    """Mixin for models: ``from_config`` and ``config()`` from ``config_class``."""

    config_class: type
    config_attributes: dict[str, str] = {}

    @classmethod
    def from_config(cls, config: Any, dtype: Any = np.float32, rng: Any = None) -> Any:
        """The model CONFIG describes (checked first: a ``ConfigError`` names a bad field)."""
        validate(config)
        return cls(**to_dict(config), dtype=dtype, rng=rng)

    def config(self) -> Any:
        """The architecture; ``type(model).from_config(model.config())`` rebuilds it."""
        return self.config_class(
            **{
                field.name: getattr(self, self.config_attributes.get(field.name, field.name))
                for field in dataclasses.fields(self.config_class)
            }
        )
