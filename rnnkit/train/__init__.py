"""Training: the generic pieces any training loop uses, and the language-model trainer.

Generic (no model in sight): ``trainer`` (the loop: steps, evaluation, best model,
checkpoints, exact resume; subclassed per kind of model), ``checkpoint`` (all-or-nothing
checkpoint folders), ``atomic`` (atomic file writes), ``rng`` (random generator state),
``budget`` (step and time limits over a whole run), ``interrupt`` (Ctrl-C as a stop
request), ``progress`` (the bar), ``metrics`` (metrics.jsonl), ``plot`` (the learning
curve), ``optimizers``.

Language models: ``lm_trainer`` (truncated BPTT), ``lm_evaluation`` (loss, bits per
character, perplexity) and ``lm_checkpoint`` (a trained model back from its run folder).
"""

from rnnkit.train.budget import Budget
from rnnkit.train.checkpoint import Checkpoint, has_checkpoint, load_checkpoint, save_checkpoint
from rnnkit.train.interrupt import StopRequest, stop_on_interrupt
from rnnkit.train.lm_evaluation import (
    describe_measures,
    evaluate_language_model,
    loss_measures,
    measure_language_model,
)
from rnnkit.train.lm_trainer import LMProgress, LMSettings, LMTrainer, TrainingDivergedError
from rnnkit.train.metrics import MetricsLog
from rnnkit.train.plot import plot_learning_curve
from rnnkit.train.progress import ProgressBar
from rnnkit.train.trainer import Trainer, TrainingProgress, TrainingSettings

__all__ = [
    "Budget",
    "Checkpoint",
    "LMProgress",
    "LMSettings",
    "LMTrainer",
    "MetricsLog",
    "ProgressBar",
    "StopRequest",
    "Trainer",
    "TrainingDivergedError",
    "TrainingProgress",
    "TrainingSettings",
    "describe_measures",
    "evaluate_language_model",
    "has_checkpoint",
    "load_checkpoint",
    "loss_measures",
    "measure_language_model",
    "plot_learning_curve",
    "save_checkpoint",
    "stop_on_interrupt",
]
