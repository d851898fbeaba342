"""Layer 4: trained recommenders on disk. `directory`: the format (manifest, verification,
crash-safe writing and recovery); `parts`: a recommender's parts to and from it, strictly.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.artifacts.directory import (
        SCHEMA_VERSION,
        ArtifactContents,
        load_artifact,
        save_artifact,
    )
    from reelrank.artifacts.parts import RecommenderParts, load_parts, save_parts

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactContents",
    "RecommenderParts",
    "load_artifact",
    "load_parts",
    "save_artifact",
    "save_parts",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
