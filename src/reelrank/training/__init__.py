"""Layer 4: training, readable top to bottom.

`loop` (the minibatch loop for rating, retrieval and multitask training, `TrainingStep`),
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
        TrainingStep,
        fit,
        fit_rating_minibatch,
    )
    from reelrank.training.optimizers import make_optimizer
    from reelrank.training.rating import fit_rating_model, split_validation
    from reelrank.training.validation import EarlyStopping, validation_rmse

__all__ = [
    "CheckpointError",
    "Checkpoints",
    "EarlyStopping",
    "Progress",
    "ProgressCallback",
    "TrainingStep",
    "fit",
    "fit_rating_minibatch",
    "fit_rating_model",
    "make_optimizer",
    "split_validation",
    "validation_rmse",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
