"""The docs stay true: every module, object and path they name exists, docs/architecture.md names
every module of the package, the README stays short, and nothing in the repository cites the
design notes that live outside it (docs/contributing.md, rule 20)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "reelrank"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 160

# `reelrank.data.splits`, `reelrank.artifacts.directory.SCHEMA_VERSION`, `reelrank.__all__`.
DOTTED = re.compile(r"(?<![\w./-])reelrank(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
# `src/reelrank/models/rating/base.py`, `reelrank/data/interactions.py`, `src/reelrank/models/`.
PACKAGE_PATH = re.compile(r"(?<![\w./-])(?:src/)?reelrank/[\w/]*\w(?:\.py)?")
# `tests/test_layers.py`, `benchmarks/retrieval.py`, `docs/results/served/table.md`.
REPO_PATH = re.compile(r"(?<![\w./-])(?:(?:tests|benchmarks)/[\w/]*\w\.py|docs/[\w/]*\w\.md)")

# The file this project's conventions came from lives outside the repository; built from parts
# so this test does not find itself.
OUTSIDE_NOTES = "DESIGN" + ".md"
SCANNED = ["README.md", "docs", "src/reelrank", "tests", "benchmarks", "Makefile", "pyproject.toml"]


def _names(pattern: re.Pattern[str], paths: list[Path]) -> dict[str, list[str]]:
    """Each match of `pattern` in `paths` -> the docs it appears in."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(path.relative_to(ROOT).as_posix())
    return found


def _resolve(name: str) -> str | None:
    """None when `name` is an importable module or package, or an attribute reached from the
    longest importable module prefix; else what is wrong."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: object = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and (module_name + ".").startswith(error.name + "."):
                continue  # this prefix is not a module; try a shorter one
            return f"importing {module_name} fails: {error!r}"
        except Exception as error:  # a module that exists but does not import is named as such
            return f"importing {module_name} fails: {error!r}"
        for attribute in parts[split:]:
            try:
                target = getattr(target, attribute)
            except Exception:
                return f"{'.'.join(parts[:split])} has no {'.'.join(parts[split:])}"
        return None
    return "no such module"


def _missing_names(docs: list[Path]) -> list[str]:
    problems = []
    for name, where in sorted(_names(DOTTED, docs).items()):
        problem = _resolve(name)
        if problem:
            problems.append(f"{name} ({', '.join(sorted(set(where)))}): {problem}")
    return problems


def _missing_paths(docs: list[Path]) -> list[str]:
    problems = []
    for path, where in sorted(_names(PACKAGE_PATH, docs).items()):
        if not (ROOT / "src" / path.removeprefix("src/")).exists():
            problems.append(f"{path} ({', '.join(sorted(set(where)))})")
    for path, where in sorted(_names(REPO_PATH, docs).items()):
        if not (ROOT / path).exists():
            problems.append(f"{path} ({', '.join(sorted(set(where)))})")
    return problems


def test_every_name_in_the_architecture_exists() -> None:
    problems = _missing_names([ARCHITECTURE])
    assert not problems, "docs/architecture.md names what does not exist:\n" + "\n".join(problems)


def test_every_path_in_the_architecture_exists() -> None:
    problems = _missing_paths([ARCHITECTURE])
    assert not problems, "docs/architecture.md names paths that do not exist:\n" + "\n".join(
        problems
    )


def test_every_module_is_in_the_architecture() -> None:
    """A module added to the package gets its line (its one concept) in docs/architecture.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(DOTTED.findall(text))
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py") or "__pycache__" in path.parts:
            continue
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if module not in named:
            missing.append(module)
    assert not missing, "docs/architecture.md has no line for:\n" + "\n".join(missing)


@pytest.mark.parametrize("doc", [d for d in DOCS if d != ARCHITECTURE], ids=lambda d: d.name)
def test_every_name_and_path_in_the_other_docs_exists(doc: Path) -> None:
    problems = _missing_names([doc]) + _missing_paths([doc])
    assert not problems, f"{doc.name} names what does not exist:\n" + "\n".join(problems)


def test_the_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it to {README_MAX_LINES} and move detail to docs/"
    )


def _text_files() -> list[Path]:
    files: list[Path] = []
    for entry in SCANNED:
        path = ROOT / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)
            ]
    return files


def test_nothing_cites_notes_from_outside_the_repository() -> None:
    offenders = []
    for path in _text_files():
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary: images, compiled files
        if OUTSIDE_NOTES.lower() in data.decode("utf-8", errors="replace").lower():
            offenders.append(path.relative_to(ROOT).as_posix())
    assert not offenders, (
        f"these files cite {OUTSIDE_NOTES}, which is not part of the repository; say what the "
        "project follows in docs/contributing.md instead:\n" + "\n".join(sorted(offenders))
    )
