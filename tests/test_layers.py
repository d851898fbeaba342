"""DESIGN.md's layering, checked: data flows one way, and each module imports only from above."""

from __future__ import annotations

import ast
from pathlib import Path

import reelrank

PACKAGE = Path(reelrank.__file__).parent

LAYERS: dict[str, int] = {
    "reelrank.types": 1,
    "reelrank.config": 1,
    "reelrank.config_json": 1,
    "reelrank.data": 2,
    "reelrank.metrics": 2,
    "reelrank.testing": 2,
    "reelrank.testing_grouplens": 2,
    "reelrank.models": 3,
    "reelrank.index": 3,
    "reelrank.training": 4,
    "reelrank.rating_training": 4,
    "reelrank.validation": 4,
    "reelrank.optimizers": 4,
    "reelrank.devices": 3,
    "reelrank.distributed": 3,  # which process this is, and the process group: torch only
    "reelrank.checkpoints": 4,
    "reelrank.artifact_dir": 4,
    "reelrank.artifacts": 4,
    "reelrank.evaluation": 4,
    "reelrank.served_lists": 4,
    "reelrank.explanations": 4,
    "reelrank.report": 2,  # tables and plots of metrics: reads only types, never torch
    "reelrank.recommender": 5,
    "reelrank.experiment": 5,
    "reelrank.served_evaluation": 5,
    "reelrank.batch_recommendations": 5,
    "reelrank.cli": 6,
    "reelrank.__main__": 6,
    "reelrank.service": 6,
}
# Imports that the layer order alone would allow, but DESIGN.md rules out.
FORBIDDEN = {
    ("reelrank.models", "reelrank.data"),
    ("reelrank.index", "reelrank.data"),
    ("reelrank.service", "reelrank.training"),
    ("reelrank.service", "reelrank.experiment"),
    ("reelrank.service", "reelrank.served_evaluation"),
}
NO_TORCH = (
    "reelrank.types",
    "reelrank.config",
    "reelrank.data",
    "reelrank.metrics",
    "reelrank.report",
)


def _layer_key(module: str) -> str:
    parts = module.split(".")
    for n in (2, 1):
        key = ".".join(parts[:n])
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
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_every_import_goes_up_the_layers() -> None:
    problems = []
    for module, path in _modules().items():
        if module == "reelrank":
            continue
        mine = _layer_key(module)
        for imported in _imports(path):
            if imported.startswith("torch") and mine.startswith(NO_TORCH):
                problems.append(f"{module} imports torch")
            if not imported.startswith("reelrank.") or imported in LAYERS.keys() - {
                k for k in LAYERS if "." in k
            }:
                continue
            try:
                theirs = _layer_key(imported)
            except AssertionError:
                continue  # `from reelrank.x import name` also lists "reelrank.x.name"
            if LAYERS[theirs] > LAYERS[mine] or (mine, theirs) in FORBIDDEN:
                problems.append(f"{module} (layer {LAYERS[mine]}) imports {imported}")
    assert not problems, "\n".join(sorted(problems))
