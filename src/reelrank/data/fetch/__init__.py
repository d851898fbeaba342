"""Getting files: the cache folder, archives (zips, wheels, folders) read by name, and the sources
that download raw data and check it against pinned digests.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.fetch.archive import Archive
    from reelrank.data.fetch.cache import default_cache_dir, resolve_cache_dir
    from reelrank.data.fetch.sources import Fetched, GroupLensZip, RecBoleWheel, Source, fetch_raw

__all__ = [
    "Archive",
    "Fetched",
    "GroupLensZip",
    "RecBoleWheel",
    "Source",
    "default_cache_dir",
    "fetch_raw",
    "resolve_cache_dir",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
