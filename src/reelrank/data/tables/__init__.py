"""People's own ratings (or views, clicks): CSV, TSV, Parquet, or a DataFrame, read as
`Interactions` with explicit column mapping and a policy for bad rows.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.tables.column_mapping import ColumnMapping, MovieColumns
    from reelrank.data.tables.ratings_file import interactions_from_table, read_ratings_file

__all__ = [
    "ColumnMapping",
    "MovieColumns",
    "interactions_from_table",
    "read_ratings_file",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
