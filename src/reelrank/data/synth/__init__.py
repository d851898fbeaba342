"""`reelrank data synth`: synthetic ratings at any size in GroupLens' ml-25m layout
(`writer`), from a hidden world of tastes (`world`), who-rates-what pairs (`pairs`) and a
movie catalogue (`movies`).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.data.synth.writer import SynthSummary, synthesize

__all__ = [
    "SynthSummary",
    "synthesize",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
