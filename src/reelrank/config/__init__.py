"""Configuration: one frozen dataclass per component, serialised to JSON in every artifact, and the
named presets. Standard library only (layer 1).

- `models`: `RatingModelConfig` (and `RatingComponent`), `RetrievalModelConfig`,
  `RetrievalLossConfig`;
- `training`: `TrainingConfig`, `TaskWeights`;
- `experiment`: `ExperimentConfig` (everything an artifact needs to be rebuilt), `with_overrides`;
- `presets`: `PRESETS` and `preset(name)`;
- `json_io`: the checked JSON round trip (`to_dict`, `from_dict`).
"""

from reelrank.config.experiment import ExperimentConfig, with_overrides
from reelrank.config.models import (
    RatingComponent,
    RatingModelConfig,
    RetrievalLossConfig,
    RetrievalModelConfig,
)
from reelrank.config.presets import PRESETS, preset
from reelrank.config.training import TaskWeights, TrainingConfig

__all__ = [
    "PRESETS",
    "ExperimentConfig",
    "RatingComponent",
    "RatingModelConfig",
    "RetrievalLossConfig",
    "RetrievalModelConfig",
    "TaskWeights",
    "TrainingConfig",
    "preset",
    "with_overrides",
]
