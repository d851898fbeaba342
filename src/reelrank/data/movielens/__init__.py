"""The MovieLens releases by name: `ml100k/` (the seed's data set, with TFDS feature names) and
`zips/` (ml-1m, ml-10m, ml-20m, ml-25m, ml-32m and ml-latest-small from their official zips).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.movielens.ml100k.load import load_movielens_100k
    from reelrank.data.movielens.zips.datasets import DATASETS, load_grouplens_dataset

__all__ = [
    "DATASETS",
    "load_grouplens_dataset",
    "load_movielens_100k",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
