import numpy as np
import pytest
import torch

from reelrank.config import ExperimentConfig, TrainingConfig
from reelrank.experiment.build import build_rating_model
from reelrank.experiment.split import prepare
from reelrank.training.loop import Progress, RunContext, Task, batches, fit_rating_minibatch
from reelrank.training.optimizers import Adagrad, make_optimizer
from reelrank.types import Ratings


def _train(ratings: Ratings, seed: int, epochs: int = 4) -> tuple[list[float], np.ndarray]:
    config = ExperimentConfig(training=TrainingConfig(batch_size=128, epochs=epochs, seed=seed))
    data = prepare(ratings, config)
    model = build_rating_model(config, data)
    history = fit_rating_minibatch(model, data.train, config.training)
    return history, model.predict(data.test.user_idx, data.test.movie_idx)


def test_loss_decreases_and_same_seed_same_numbers(ratings: Ratings) -> None:
    history, predictions = _train(ratings, seed=3)
    assert history[-1] < history[0]
    torch.manual_seed(12345)  # the seed in the config decides everything, not global state
    history2, predictions2 = _train(ratings, seed=3)
    assert history == history2 and np.array_equal(predictions, predictions2)
    _, other = _train(ratings, seed=4)
    assert not np.array_equal(predictions, other)


def test_progress_reports_every_step_with_rmse(ratings: Ratings) -> None:
    config = ExperimentConfig(training=TrainingConfig(batch_size=500, epochs=2))
    data = prepare(ratings, config)
    seen: list[Progress] = []
    fit_rating_minibatch(
        build_rating_model(config, data),
        data.train,
        config.training,
        context=RunContext(on_progress=seen.append),
    )
    assert [(p.epoch, p.step) for p in seen] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert all(p.rmse == pytest.approx(p.loss**0.5) for p in seen)


def test_adagrad_matches_keras_defaults() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = make_optimizer(iter([param]), TrainingConfig())
    assert isinstance(opt, Adagrad)
    assert opt.accumulators[0].item() == pytest.approx(0.1) and opt.eps == 1e-7
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer(iter([param]), TrainingConfig(optimizer="sgdx"))
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer(iter([param]), TrainingConfig(learning_rate=0))


def test_progress_names_the_task_and_has_no_rmse_for_retrieval(ratings: Ratings) -> None:
    from reelrank.config import RetrievalModelConfig
    from reelrank.experiment.build import build_retrieval_model
    from reelrank.training.loop import fit

    config = ExperimentConfig(
        rating=None,
        retrieval=RetrievalModelConfig(embedding_dim=8),
        training=TrainingConfig(batch_size=500, epochs=1),
    )
    data = prepare(ratings, config)
    tower = build_retrieval_model(config, ratings, data)
    seen: list[Progress] = []
    task = Task(retrieval=tower)  # type: ignore[arg-type]
    fit(task, data.train, config.training, context=RunContext(on_progress=seen.append))
    assert {p.task for p in seen} == {"retrieval"} and all(p.rmse is None for p in seen)


def test_batches_are_slices_of_a_seeded_permutation() -> None:
    first = torch.cat(list(batches(10, 3, torch.Generator().manual_seed(0))))
    again = torch.cat(list(batches(10, 3, torch.Generator().manual_seed(0))))
    assert sorted(first.tolist()) == list(range(10)) and torch.equal(first, again)
    assert [len(b) for b in batches(10, 3, None)] == [3, 3, 3, 1]
    with pytest.raises(ValueError, match="batch_size"):
        next(batches(10, 0, None))
