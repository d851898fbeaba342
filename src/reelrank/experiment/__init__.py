"""Layer 7: an experiment end to end. `build` makes the configured models from the data; `run`
splits, trains, evaluates and wraps them into a `Recommender`.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.experiment.build import build_rating_model, build_retrieval_model
    from reelrank.experiment.run import evaluate_recommender, train_recommender
    from reelrank.experiment.split import SplitData, prepare

__all__ = [
    "SplitData",
    "build_rating_model",
    "build_retrieval_model",
    "evaluate_recommender",
    "prepare",
    "train_recommender",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
