"""The layering of docs/contributing.md, checked: the packages are the layers, data flows one way,
and each package imports only from the layers above it."""

from __future__ import annotations

import ast
from pathlib import Path

import reelrank

PACKAGE = Path(reelrank.__file__).parent

# Every top-level package or module of reelrank, and its layer. A module may import from its own
# layer and the layers above it (smaller numbers), never from below.
LAYERS: dict[str, int] = {
    "reelrank.errors": 1,
    "reelrank.types": 1,
    "reelrank.files": 1,
    "reelrank._lazy": 1,
    "reelrank.config": 1,
    "reelrank.data": 2,
    "reelrank.store": 2,
    "reelrank.metrics": 2,
    "reelrank.models": 3,
    "reelrank.index": 3,
    "reelrank.runtime": 3,
    "reelrank.training": 4,
    "reelrank.artifacts": 4,
    "reelrank.recommender": 5,
    "reelrank.evaluation": 6,
    "reelrank.experiment": 7,
    "reelrank.cli": 8,
    "reelrank.service": 8,
    "reelrank.testing": 8,
    "reelrank.__main__": 8,
}
# Imports the layer order alone would allow, but the house rules rule out.
FORBIDDEN = {
    ("reelrank.models", "reelrank.data"),  # models see contiguous integers, never data
    ("reelrank.index", "reelrank.data"),
    ("reelrank.models", "reelrank.store"),
    ("reelrank.index", "reelrank.store"),
    ("reelrank.recommender", "reelrank.store"),  # it takes histories as arrays, never a store
    ("reelrank.data", "reelrank.store"),
    ("reelrank.service", "reelrank.training"),  # a server never trains
    ("reelrank.service", "reelrank.experiment"),
    ("reelrank.service", "reelrank.evaluation"),
    ("reelrank.cli", "reelrank.testing"),  # the product never reads test helpers
    ("reelrank.service", "reelrank.testing"),
}
NO_TORCH = (
    "reelrank.errors",
    "reelrank.types",
    "reelrank.files",
    "reelrank.config",
    "reelrank.data",
    "reelrank.store",
    "reelrank.metrics",
    "reelrank.evaluation.report",  # tables and plots of figures: numpy and matplotlib only
)
# The package's public face: `reelrank/__init__.py` re-exports from every layer (lazily).
PUBLIC_API = "reelrank"


def _layer_key(module: str) -> str:
    parts = module.split(".")
    key = ".".join(parts[:2])
    if key in LAYERS:
        return key
    raise AssertionError(f"{module} is not in the layer map of tests/test_layers.py: add it")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == PUBLIC_API:
            names |= {f"{PUBLIC_API}.{alias.name}" for alias in node.names}  # its submodules
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_every_package_is_in_the_layer_map() -> None:
    tops = {f"reelrank.{p.stem}" for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    tops -= {"reelrank.__init__", "reelrank.__pycache__", "reelrank.py"}
    assert tops == set(LAYERS), "packages and the layer map differ"


def test_every_import_goes_up_the_layers() -> None:
    problems = []
    for module, path in _modules().items():
        if module == PUBLIC_API:
            continue
        mine = _layer_key(module)
        for imported in _imports(path):
            if imported.split(".")[0] == "torch" and module.startswith(NO_TORCH):
                problems.append(f"{module} imports torch")
            if not imported.startswith("reelrank.") or imported == PUBLIC_API:
                continue
            theirs = _layer_key(imported)
            if LAYERS[theirs] > LAYERS[mine] or (mine, theirs) in FORBIDDEN:
                problems.append(f"{module} (layer {LAYERS[mine]}) imports {imported}")
    assert not problems, "\n".join(sorted(problems))


def test_no_module_imports_the_public_api() -> None:
    """Inside the package, modules import from where a name lives, never from `reelrank` itself
    (which would load every layer for any import)."""
    offenders = [m for m, p in _modules().items() if m != PUBLIC_API and PUBLIC_API in _imports(p)]
    assert not offenders, offenders
