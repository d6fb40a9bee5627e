"""The batched tasks' settings: defaults that follow the length of an epoch."""

from rnnkit.config import INT64_MAX, from_dict, to_dict
from rnnkit.train.batched_trainer import BatchedSettings


def test_default_patience_follows_eval_every_and_stays_a_64_bit_count():
    settings = BatchedSettings()
    settings.resolve(steps_per_epoch=30)
    assert (settings.eval_every, settings.plateau_patience) == (30, 60)
    # --eval-every 9223372036854775807 doubled past int64: the run was refused naming
    # --plateau-patience, a flag the user had not given
    settings = BatchedSettings(eval_every=INT64_MAX)
    settings.resolve(steps_per_epoch=30)
    assert settings.plateau_patience == INT64_MAX
    assert from_dict(BatchedSettings, to_dict(settings)) == settings
