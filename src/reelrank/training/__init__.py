"""Layer 4: training, readable top to bottom.

`loop` (`fit`: the minibatch loop for rating, retrieval and multitask training, its state in
one `TrainingLoop`), `step` (`TrainingStep`, one step's loss),
`rating` (any rating model: validation carved from the training rows, AutoRec's full batch,
ensembles), `validation` (RMSE per epoch, early stopping), `optimizers` (Keras' Adagrad with
row-sparse updates, schedules) and `checkpoints` (resumable, crash-safe runs).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.training.checkpoints import CheckpointError, Checkpoints
    from reelrank.training.loop import (
        Progress,
        ProgressCallback,
        RunContext,
        Task,
        TrainingLoop,
        fit,
        fit_rating_minibatch,
    )
    from reelrank.training.optimizers import make_optimizer
    from reelrank.training.rating import fit_rating_model, split_validation
    from reelrank.training.step import TrainingStep
    from reelrank.training.validation import EarlyStopping, validation_rmse

__all__ = [
    "CheckpointError",
    "Checkpoints",
    "EarlyStopping",
    "Progress",
    "ProgressCallback",
    "RunContext",
    "Task",
    "TrainingLoop",
    "TrainingStep",
    "fit",
    "fit_rating_minibatch",
    "fit_rating_model",
    "make_optimizer",
    "split_validation",
    "validation_rmse",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
