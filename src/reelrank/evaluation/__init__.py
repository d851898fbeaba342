"""Layer 6: what a model is worth. `stages` (each stage's own metrics: RMSE, factorized top-k),
`served` (the lists people are served, scored through the code that serves them) and `report`
(Markdown tables and plots).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.evaluation.served import evaluate_liked_counts, evaluate_served, scorable_test
    from reelrank.evaluation.stages import evaluate_ratings, evaluate_retrieval

__all__ = [
    "evaluate_liked_counts",
    "evaluate_ratings",
    "evaluate_retrieval",
    "evaluate_served",
    "scorable_test",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
