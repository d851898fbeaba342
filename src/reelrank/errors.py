"""The errors reelrank raises on purpose: each says what was wrong and what to do next.

The command line prints a `ReelrankError` as one line and exits 1; the service answers it as JSON
(404 for an `UnknownIdError`, 409 for a `ConflictError`, 422 for other input). Standard library
only (layer 1).
"""

from __future__ import annotations


class ReelrankError(Exception):
    """Base class for errors caused by input: the message says what was wrong and what to do."""


class DataError(ReelrankError):
    """A data set could not be found, downloaded, verified or parsed."""


class UnknownIdError(ReelrankError, KeyError):
    """A user id or movie title is not in the vocabulary."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ConflictError(ReelrankError):
    """What was asked clashes with what exists (a movie title the catalogue has already)."""


class ArtifactError(ReelrankError):
    """A saved model directory is missing, incomplete, corrupt or of an unknown version."""


class StoreError(ReelrankError):
    """The rating store could not be opened, read or written (corrupt, of a newer schema,
    unreachable, or out of space); nothing half-written is left behind."""
