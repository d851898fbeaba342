"""The MovieLens releases after 100k (1M to 32M, latest-small) from GroupLens' official zips:
their specs and pins, the download, and the ratings, movies and users files.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.movielens.zips.datasets import (
        DATASETS,
        DatasetSpec,
        dataset_spec,
        load_grouplens_dataset,
    )

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "dataset_spec",
    "load_grouplens_dataset",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
