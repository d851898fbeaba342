"""Layer 3: the models, plain `torch.nn.Module`s that see contiguous indices only (0 = unknown).

- `rating/`: what predicts stars (`RatingModel`: the seed's MLP, MF and SVD++, AutoRec, ensembles);
- `retrieval/`: what finds candidates (`RetrievalModel`: two towers, popularity, EASE/EDLAE, the
  low-rank item-item model, the blend) and the retrieval losses;
- `csr`, `initialization`: helpers both share.
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.models.rating.base import RatingModel
    from reelrank.models.retrieval.base import RetrievalModel

__all__ = [
    "RatingModel",
    "RetrievalModel",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
