"""Layer 2, no torch: ratings of any source and size in, the arrays models see out.

- `interactions`: `Interactions`, one row per rating as int codes, each id and title stored once;
- `choice`: `DataChoice` (which data a command reads) and `load_data`;
- `splits`: train/test splits as pure functions of arrays;
- `bad_rows`: the policy for repeated or badly dated rating rows that every reader shares;
- `movielens/`: the MovieLens releases (`ml100k/`, and `zips/` for 1M to 32M);
- `tables/`: people's own CSV, TSV, Parquet or DataFrames;
- `fetch/`: downloads, pinned digests, archives and the cache folder;
- `encoding/`: vocabularies, encoded arrays, feature tables, the encoded cache;
- `catalog/`: the ids and titles people type, matched forgivingly;
- `synth/`: synthetic data in ml-25m's layout at any size.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.choice import DataChoice, dataset_names, load_data
    from reelrank.data.interactions import Interactions, as_interactions
    from reelrank.data.splits import SplitSpec, parse_split, split_ratings, split_rows

__all__ = [
    "DataChoice",
    "Interactions",
    "SplitSpec",
    "as_interactions",
    "dataset_names",
    "load_data",
    "parse_split",
    "split_ratings",
    "split_rows",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
