"""Layer 2, no torch: the ratings people give, stored durably.

`store` (`RatingStore`: SQLite by default, PostgreSQL by URL; writes acknowledged only once
committed), `movies` (movies added after training, edits, takedowns), `group_commit` (concurrent
writes share a commit), `engine` (connections and transactions), `schema` (the tables, the schema
version, the migrations) and `transfer` (a store to and from CSV or Parquet).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.store.schema import SCHEMA_VERSION
    from reelrank.store.store import RatingStore, StoredRating, default_store_path, store_url

__all__ = [
    "SCHEMA_VERSION",
    "RatingStore",
    "StoredRating",
    "default_store_path",
    "store_url",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
