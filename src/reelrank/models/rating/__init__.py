"""Rating models: predict the stars a user gives a movie, behind one interface (`base.RatingModel`).

`mlp` (the seed's `RatingMLP`, with biases, side features, DCN-v2 cross layers),
`matrix_factorization` (biased MF, SVD++), `autorec` (I-AutoRec), `ensemble` (least-squares
blends), and `factory` (build and rebuild one by its configured `kind`).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.models.rating.autorec import AutoRec
    from reelrank.models.rating.base import RatingModel
    from reelrank.models.rating.ensemble import Ensemble
    from reelrank.models.rating.factory import (
        RATING_KINDS,
        new_rating_model,
        rating_model_for_state,
    )
    from reelrank.models.rating.matrix_factorization import MatrixFactorization
    from reelrank.models.rating.mlp import RatingMLP

__all__ = [
    "RATING_KINDS",
    "AutoRec",
    "Ensemble",
    "MatrixFactorization",
    "RatingMLP",
    "RatingModel",
    "new_rating_model",
    "rating_model_for_state",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
