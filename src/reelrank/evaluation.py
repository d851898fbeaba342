"""Evaluation: runs trained models over a held-out split and returns metric dicts.

Runs once after training, vectorised; the metric arithmetic itself lives in `reelrank.metrics`.
"""

from __future__ import annotations

import numpy as np

from reelrank import metrics
from reelrank.data.encoding import EncodedRatings
from reelrank.models.ranking import RankingModel
from reelrank.training import predict_ratings


def evaluate_ranking(
    model: RankingModel, test: EncodedRatings, *, batch_size: int = 4096
) -> dict[str, float]:
    """The seed's `model.evaluate` dict for a rating model, plus mean absolute error.

    Keys: `root_mean_squared_error`, `loss` (MSE), `regularization_loss`, `total_loss`,
    `mean_absolute_error`.
    """
    if len(test) == 0:
        raise ValueError("the test split is empty: choose a split that holds out some ratings")
    predictions = predict_ratings(model, test.user_idx, test.movie_idx, batch_size=batch_size)
    mse = float(np.mean((predictions.astype(np.float64) - test.rating) ** 2))
    regularization = 0.0  # the seed's model has no regularisation terms
    return {
        "root_mean_squared_error": metrics.rmse(test.rating, predictions),
        "loss": mse,
        "regularization_loss": regularization,
        "total_loss": mse + regularization,
        "mean_absolute_error": metrics.mae(test.rating, predictions),
    }
