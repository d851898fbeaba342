"""The public API: every package says what it offers in `__all__`, each name there imports, and
`import reelrank` stays cheap (names load on first use)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import reelrank
from reelrank._lazy import exported_names

SUBPACKAGES = (m.name for m in pkgutil.walk_packages(reelrank.__path__, "reelrank.") if m.ispkg)
PACKAGES = ["reelrank", *sorted(SUBPACKAGES)]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_in_every_all_imports(name: str) -> None:
    package = importlib.import_module(name)
    assert isinstance(package.__all__, list) and package.__all__, f"{name} has no __all__"
    for exported in package.__all__:
        assert getattr(package, exported) is not None, f"{name}.{exported}"
    assert set(package.__all__) <= set(dir(package))


@pytest.mark.parametrize("name", PACKAGES)
def test_a_lazy_package_lists_exactly_what_it_imports_for_type_checkers(name: str) -> None:
    package = importlib.import_module(name)
    if "__getattr__" not in vars(package):
        return  # an eager package: its names are plain attributes, checked above
    assert sorted(package.__all__) == sorted(exported_names(package.__file__))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Recomender'"):
        _ = reelrank.Recomender


def test_import_reelrank_loads_neither_torch_nor_the_service() -> None:
    code = "import sys, reelrank; print(sorted({'torch', 'fastapi', 'pyarrow'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_readme_example_runs_on_public_names(tmp_path: Path) -> None:
    from reelrank import Recommender, preset, train_recommender, with_overrides
    from reelrank.testing import synthetic_ratings

    config = with_overrides(
        preset("seed"), training=with_overrides(preset("seed").training, epochs=1)
    )
    recommender = train_recommender(synthetic_ratings(), config)
    recommender.save(tmp_path / "mine")
    loaded = Recommender.load(tmp_path / "mine")
    recs = loaded.recommend(str(loaded.catalog.users.terms[0]), k=3)
    assert len(recs) == 3 and all(r.predicted_rating is not None for r in recs)
