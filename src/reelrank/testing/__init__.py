"""Helpers for tests and examples (never imported by the product): a small deterministic
MovieLens-shaped data set, writers of it in GroupLens' layouts, and the contract suites every
model passes.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.testing.contracts import (
        RATING_CHECKS,
        RETRIEVAL_CHECKS,
        Subject,
        check_rating_model,
        check_retrieval_model,
    )
    from reelrank.testing.ml100k_files import write_grouplens
    from reelrank.testing.synthetic import synthetic_ratings
    from reelrank.testing.zip_files import synthetic_tables, write_dataset_folder, write_dataset_zip

__all__ = [
    "RATING_CHECKS",
    "RETRIEVAL_CHECKS",
    "Subject",
    "check_rating_model",
    "check_retrieval_model",
    "synthetic_ratings",
    "synthetic_tables",
    "write_dataset_folder",
    "write_dataset_zip",
    "write_grouplens",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
