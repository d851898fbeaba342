"""reelrank: a two-stage movie recommender (retrieval + rating) as a library, a command line and an
HTTP service.

The public API, in one import::

    from reelrank import Recommender, load_movielens_100k, preset, train_recommender

    recommender = train_recommender(load_movielens_100k(), preset("seed"))
    recommender.save("artifacts/mine")
    for rec in Recommender.load("artifacts/mine").recommend("9", k=3):
        print(rec.movie_title, rec.predicted_rating)

Each name is imported on first use, so `import reelrank` stays cheap. Everything else is internal
to its package; each package's `__all__` lists what it offers the packages below it.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.config import (
        PRESETS,
        ExperimentConfig,
        RatingModelConfig,
        RetrievalModelConfig,
        TrainingConfig,
        preset,
        with_overrides,
    )
    from reelrank.data.catalog.catalog import Catalog, ListFilter, MovieInfo
    from reelrank.data.choice import DataChoice, dataset_names, load_data
    from reelrank.data.interactions import Interactions
    from reelrank.data.movielens.ml100k.load import load_movielens_100k
    from reelrank.data.splits import split_ratings
    from reelrank.data.tables.ratings_file import interactions_from_table, read_ratings_file
    from reelrank.errors import ArtifactError, DataError, ReelrankError, UnknownIdError
    from reelrank.experiment.run import evaluate_recommender, train_recommender
    from reelrank.recommender.lists import Recommendation
    from reelrank.recommender.recommender import Recommender
    from reelrank.types import Ratings

__all__ = [
    "PRESETS",
    "ArtifactError",
    "Catalog",
    "DataChoice",
    "DataError",
    "ExperimentConfig",
    "Interactions",
    "ListFilter",
    "MovieInfo",
    "RatingModelConfig",
    "Ratings",
    "Recommendation",
    "Recommender",
    "ReelrankError",
    "RetrievalModelConfig",
    "TrainingConfig",
    "UnknownIdError",
    "dataset_names",
    "evaluate_recommender",
    "interactions_from_table",
    "load_data",
    "load_movielens_100k",
    "preset",
    "read_ratings_file",
    "split_ratings",
    "train_recommender",
    "with_overrides",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
