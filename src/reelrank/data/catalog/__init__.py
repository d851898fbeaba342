"""Who and what a trained model knows, looked up the way people type: `Catalog` (ids, titles,
`ListFilter`) and forgiving title matching (`titles`).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.catalog.catalog import Catalog, ListFilter, MovieInfo
    from reelrank.data.catalog.titles import AmbiguousTitleError, TitleMatcher

__all__ = [
    "AmbiguousTitleError",
    "Catalog",
    "ListFilter",
    "MovieInfo",
    "TitleMatcher",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
