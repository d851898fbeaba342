"""What models see: `Vocabulary` (ids <-> contiguous integers, 0 = unknown), the encoded arrays
(`Vocabularies`, `EncodedRatings`, `UserRatings`, `MovieTable`), side-feature tables, and the
encoded cache (memory-mapped, digest-checked `.npy` files).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.encoding.encoded import EncodedRatings, MovieTable, UserRatings, Vocabularies
    from reelrank.data.encoding.vocabulary import UNKNOWN_INDEX, Vocabulary

__all__ = [
    "UNKNOWN_INDEX",
    "EncodedRatings",
    "MovieTable",
    "UserRatings",
    "Vocabularies",
    "Vocabulary",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
