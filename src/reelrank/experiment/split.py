"""The data of one experiment: the ratings split (`SplitData`: vocabularies from all ratings, as the
seed does, then the train and test parts encoded), and a split checked before training."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from reelrank.config import ExperimentConfig
from reelrank.data.catalog.catalog import Catalog
from reelrank.data.encoding.encoded import EncodedRatings, MovieTable, UserRatings, Vocabularies
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.data.splits import split_ratings, split_rows
from reelrank.errors import ReelrankError
from reelrank.types import Ratings


@dataclass(frozen=True)
class SplitData:
    """A split, encoded with the vocabularies of the whole data set (as the seed builds them)."""

    catalog: Catalog
    train: EncodedRatings
    test: EncodedRatings

    @property
    def vocabs(self) -> Vocabularies:
        return self.catalog.vocabs

    @property
    def movies(self) -> MovieTable:
        return self.catalog.table

    @cached_property
    def seen(self) -> UserRatings:
        """The training ratings grouped by user, oldest first: grouped once, then shared by the
        models that read histories and by the `Recommender` (at 25M ratings each copy is
        hundreds of megabytes)."""
        return self.train.by_user(self.vocabs.users.size)


def prepare(ratings: Ratings | Interactions, config: ExperimentConfig) -> SplitData:
    """Build vocabularies and catalogue from all ratings, split, and encode both parts."""
    data = as_interactions(ratings)
    if len(data) == 0:
        raise ReelrankError("the ratings table is empty: nothing to train on")
    vocabs = Vocabularies.from_ratings(data)
    train, test = split_ratings(data, config.split, seed=config.training.seed)
    return SplitData(
        catalog=Catalog(vocabs, MovieTable.from_ratings(data, vocabs.movies)),
        train=EncodedRatings.encode(train, vocabs),
        test=EncodedRatings.encode(test, vocabs),
    )


def check_split(ratings: Ratings | Interactions, config: ExperimentConfig) -> tuple[int, int]:
    """(training rows, test rows) of `config.split` on `ratings`, or a `ReelrankError` when
    either part would be empty: a model trained on nothing, or one no test rating can judge, is
    refused before any training (`reelrank train` calls this first)."""
    train_rows, test_rows = split_rows(ratings, config.split, seed=config.training.seed)
    if len(train_rows) == 0 or len(test_rows) == 0:
        raise ReelrankError(
            f"split {config.split} of {len(ratings):,} rating{'s' * (len(ratings) != 1)} leaves "
            f"{len(train_rows):,} to train on and {len(test_rows):,} to test on: too few; give "
            "more ratings (every user needs a few) or another --split"
        )
    return len(train_rows), len(test_rows)
