"""The docs stay true: every module, object and path they name exists, docs/architecture.md names
every module of the package, the README stays short, and nothing in the repository cites the
design notes that live outside it (docs/contributing.md, rule 20)."""

from __future__ import annotations

import ast
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

# `RatingMLP`, `SCHEMA_VERSION`, `fit_rating_model`: a backticked class, constant or function name.
IDENTIFIER = re.compile(
    r"`("
    r"_?[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*"  # a class: RatingMLP
    r"|_?[A-Z][A-Z0-9_]+"  # a constant: SCHEMA_VERSION
    r"|_?[a-z][a-z0-9]*_[a-z0-9_]+"  # a function, method or field: fit_rating_model
    r")`"
)
# The docs that describe the code: each identifier they name must be defined in it.
CODE_DOCS = [
    ROOT / "README.md",
    ARCHITECTURE,
    *(ROOT / "docs" / name for name in ("contributing.md", "adding_a_model.md", "running.md")),
    ROOT / "docs" / "data.md",
]
# Names of the libraries reelrank builds on that a doc may name though the code only uses them.
LIBRARY_NAMES = {"DistributedDataParallel"}
# Paths a doc names on purpose although they are gone (a history of what was removed).
REMOVED = {"benchmarks/retrieval_research_2.py"}

# The file this project's conventions came from lives outside the repository. Its name is built
# from parts so that this test does not find itself; a citation is the name in any case, or its
# stem in capitals as a word (the ordinary word "design" is fine).
STEM = "DES" + "IGN"
OUTSIDE_NOTES = STEM + ".md"
CITATION = re.compile(rf"\b{STEM}\b(?:\.md)?", re.IGNORECASE)
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
        if not (ROOT / path).exists() and path not in REMOVED:
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


def _defined_names() -> set[str]:
    """Every class, function, method, constant, field, attribute and imported name of the code,
    and every identifier-like string in it (JSON keys such as `schema_version`)."""
    names: set[str] = set()
    for folder in ("src/reelrank", "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(node.name)
                elif isinstance(node, ast.Name | ast.arg):
                    names.add(node.id if isinstance(node, ast.Name) else node.arg)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.alias):
                    names.add((node.asname or node.name).rsplit(".", 1)[-1])
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names.add(node.value)
    return names


def test_every_identifier_the_docs_name_is_defined() -> None:
    """A class, function or constant a doc names in backticks is defined somewhere in the code,
    so a rename that leaves a doc behind fails here."""
    defined = _defined_names()
    problems = [
        f"{name} ({', '.join(sorted(set(where)))})"
        for name, where in sorted(_names(IDENTIFIER, CODE_DOCS).items())
        if name not in defined and name not in LIBRARY_NAMES
    ]
    assert not problems, "the docs name what the code does not define:\n" + "\n".join(problems)


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


def _cites(text: str) -> bool:
    """Whether `text` names the notes from outside the repository."""
    return any(
        match.group().lower() == OUTSIDE_NOTES.lower() or match.group() == STEM
        for match in CITATION.finditer(text)
    )


def test_nothing_cites_notes_from_outside_the_repository() -> None:
    offenders = []
    for path in _text_files():
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary: images, compiled files
        if _cites(data.decode("utf-8", errors="replace")):
            offenders.append(path.relative_to(ROOT).as_posix())
    assert not offenders, (
        f"these files cite {OUTSIDE_NOTES}, which is not part of the repository; say what the "
        "project follows in docs/contributing.md instead:\n" + "\n".join(sorted(offenders))
    )
