"""Watching a rating model on validation ratings while it trains: its RMSE after each epoch,
and early stopping that keeps the best epoch's weights."""

from __future__ import annotations

import copy
import math

from reelrank.config import TrainingConfig
from reelrank.data.encoding.encoded import EncodedRatings
from reelrank.models.rating.base import RatingModel


def validation_rmse(model: RatingModel, validation: EncodedRatings, batch_size: int) -> float:
    """RMSE of `model`'s (clipped) ratings on `validation`; the training mode is kept."""
    was_training = model.training
    model.eval()
    try:
        predicted = model.predict(validation.user_idx, validation.movie_idx, batch_size=batch_size)
    finally:
        model.train(was_training)
    return math.sqrt(float(((predicted.astype("float64") - validation.rating) ** 2).mean()))


class EarlyStopping:
    """Measures the rating model on validation ratings after every epoch; with
    `config.patience`, says when to stop and keeps a copy of the best epoch's weights (`best`,
    a module, so that checkpoints can hold it too)."""

    def __init__(
        self, model: RatingModel | None, validation: EncodedRatings | None, config: TrainingConfig
    ) -> None:
        self.model, self.validation, self.config = model, validation, config
        self.active = model is not None and validation is not None and len(validation) > 0
        self.scores: list[float] = []
        self.best = copy.deepcopy(model) if self.active and config.patience > 0 else None

    def epoch_done(self) -> bool:
        """Measure the epoch just trained; True when training should stop."""
        if not self.active:
            return False
        assert self.model is not None and self.validation is not None
        score = validation_rmse(self.model, self.validation, self.config.eval_batch_size)
        self.scores.append(score)
        if self.best is None:
            return False
        best_epoch = min(range(len(self.scores)), key=self.scores.__getitem__)
        if best_epoch == len(self.scores) - 1:
            self.best.load_state_dict(self.model.state_dict())
        return len(self.scores) - 1 - best_epoch >= self.config.patience

    def keep_best(self) -> None:
        """Put the best epoch's weights back into the model."""
        if self.best is not None and self.scores and self.model is not None:
            self.model.load_state_dict(self.best.state_dict())
