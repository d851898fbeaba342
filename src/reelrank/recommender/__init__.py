"""Layer 5: `Recommender`, the one object a user, the command line or the server holds.

`recommender` (lists for a known user, liked movies, similar movies; scores), `lists` (many
served lists as arrays, `Recommendation` as people see it), `explanations` ("because you liked")
and `batch` (every user's list as Parquet).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.recommender.batch import BatchSummary, write_all_users
    from reelrank.recommender.explanations import Explainer
    from reelrank.recommender.lists import LIST_ORDERS, ListOrder, Recommendation, ServedLists
    from reelrank.recommender.recommender import Recommender

__all__ = [
    "LIST_ORDERS",
    "BatchSummary",
    "Explainer",
    "ListOrder",
    "Recommendation",
    "Recommender",
    "ServedLists",
    "write_all_users",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
