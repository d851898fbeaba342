"""MovieLens 100k, the seed's data set: three files (`u.data`, `u.item`, `u.user`) from a path you
give, GroupLens' zip or the `recbole` wheel, checked against pinned digests, parsed into a
`Ratings` table with TFDS' feature names and cached as Parquet.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.movielens.ml100k.load import dataset_info, load_movielens_100k

__all__ = [
    "dataset_info",
    "load_movielens_100k",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
