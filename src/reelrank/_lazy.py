"""Lazy re-exports for package `__init__` files: `from reelrank import Recommender` works, yet
`import reelrank` (or any one module of it) loads nothing else until a name is used.

A package lists its public names in `__all__` and imports them under `if TYPE_CHECKING:` (so type
checkers and readers see where each lives); `lazy_exports` reads that block and returns the
module's `__getattr__` and `__dir__`. This keeps `reelrank --help` from importing torch, faiss or
FastAPI. Standard library only (layer 1).
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def exported_names(init_file: str) -> dict[str, str]:
    """Each name imported in the `if TYPE_CHECKING:` block of `init_file` -> the module it is
    imported from."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        found[alias.asname or alias.name] = statement.module
    return found


def lazy_exports(
    package: str, init_file: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for the package `package` whose `__init__` is `init_file`."""
    sources = exported_names(init_file)

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(sources[name]), name)
        setattr(sys.modules[package], name, value)  # once loaded, a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(sys.modules[package].__dict__) | set(sources))

    return __getattr__, __dir__
