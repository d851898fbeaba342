"""Retrieval models: score every movie for a user as `user_vector . movie_vector`, so one index
serves them all (`base.RetrievalModel`); `fold_in` makes a vector for anyone from a history.

`two_tower`, `popularity`, `item_item` (EASE, EDLAE), `low_rank`, `blend` (EDLAE + two towers),
`losses` (in-batch softmax with corrections) and `factory` (build, fit, rebuild by `kind`).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.models.retrieval.base import RetrievalModel
    from reelrank.models.retrieval.blend import Blend
    from reelrank.models.retrieval.factory import (
        KINDS,
        fit_closed_form,
        new_two_tower,
        retrieval_model_from_state_dict,
    )
    from reelrank.models.retrieval.item_item import EASE, EDLAE, ItemItemModel
    from reelrank.models.retrieval.losses import RetrievalLoss
    from reelrank.models.retrieval.low_rank import LowRankItemModel
    from reelrank.models.retrieval.popularity import Popularity
    from reelrank.models.retrieval.two_tower import TwoTower

__all__ = [
    "EASE",
    "EDLAE",
    "KINDS",
    "Blend",
    "ItemItemModel",
    "LowRankItemModel",
    "Popularity",
    "RetrievalLoss",
    "RetrievalModel",
    "TwoTower",
    "fit_closed_form",
    "new_two_tower",
    "retrieval_model_from_state_dict",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
