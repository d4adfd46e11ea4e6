"""The layer rules of docs/architecture.md, checked on the source tree itself.

Each rule reads the package's modules with ``ast`` (nothing is imported), so a change
that breaks a rule fails here with the file and line that broke it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.core import routes

SRC = Path(__file__).resolve().parents[1] / "src" / "charter"


def modules(*parts: str) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the package, parsed module) under each folder or file in parts."""
    for part in parts:
        base = SRC / part
        files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
        for path in files:
            yield str(path.relative_to(SRC)), ast.parse(path.read_text(), str(path))


def imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, module) of every ``charter`` import, function-level ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "charter":
                for alias in node.names:
                    yield node.lineno, f"charter.{alias.name}"
            elif node.module.startswith("charter."):
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("charter."):
                    yield node.lineno, alias.name


def offending_imports(parts: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for name, tree in modules(*parts):
        for line, module in imported(tree):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                found.append(f"{name}:{line} imports {module}")
    return found


STAGES = ("accounts.py", "audit.py", "usage.py", "profiles.py", "prompt.py", "defaults.py",
          "backends", "knowledge", "policy", "router", "strategies", "store")
UPPER = ("charter.spine", "charter.services", "charter.server", "charter.cli",
         "charter.runtime", "charter.bench")


def test_core_imports_nothing_of_the_rest_of_charter() -> None:
    found = [f"{name}:{line} imports {module}" for name, tree in modules("core")
             for line, module in imported(tree) if not module.startswith("charter.core")]
    assert not found, "\n".join(found)


def test_stages_and_backends_never_import_the_spine_services_or_the_edges() -> None:
    found = offending_imports(STAGES, UPPER)
    assert not found, '\n'.join(found)


def test_the_spine_never_imports_services_or_the_edges() -> None:
    found = offending_imports(("spine",), ("charter.services", "charter.server", "charter.cli",
                                          "charter.runtime", "charter.bench"))
    assert not found, '\n'.join(found)


def test_services_never_import_the_edges() -> None:
    found = offending_imports(("services",), ("charter.server", "charter.cli",
                                             "charter.bench"))
    assert not found, '\n'.join(found)


def test_the_server_never_imports_the_cli() -> None:
    found = offending_imports(("server",), ("charter.cli",))
    assert not found, '\n'.join(found)


# What the edges may not reach: the stores and repositories behind the services.
REPOSITORY_ATTRIBUTES = {"db", "aliases", "audit", "accounts", "quotas", "routers", "profiles",
                         "feedback", "policies", "reviews", "use_cases", "documents", "screen",
                         "retriever", "route_log"}
STORAGE_CLASSES = {"Database", "Ingestor", "Searcher", "open_store", "SQLiteDocumentStore",
                   "PostgresDocumentStore", "AuditLog", "Accounts",
                   "Quotas", "ReviewQueue", "PolicyRepository", "UseCaseRegister",
                   "AliasRepository", "ProfileRepository", "FeedbackRepository",
                   "RouterRepository", "RouteLog"}


def test_the_edges_write_only_through_services_or_the_gateway() -> None:
    """No module under cli/ or server/ imports storage, constructs a repository, or
    reaches one through the runtime: every write goes through ``charter.services`` (or
    ``gateway.ask`` for chat)."""
    found = offending_imports(("cli", "server"), ("charter.store",))
    for name, tree in modules("cli", "server"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in REPOSITORY_ATTRIBUTES:
                found.append(f"{name}:{node.lineno} reaches .{node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in STORAGE_CLASSES:
                found.append(f"{name}:{node.lineno} builds {node.func.id}")
    assert not found, "\n".join(found)


def test_route_names_are_spelled_only_in_core() -> None:
    names = {routes.FAST, routes.THINKING, routes.PRO, routes.MINI, routes.AUTO}
    found = []
    for name, tree in modules("."):
        if name.startswith("core/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in names:
                found.append(f"{name}:{node.lineno} {node.value!r}")
    assert not found, "\n".join(found)


DIALECT_HOMES = {"store/dialects.py", "knowledge/store/sqlite.py", "knowledge/store/postgres.py"}


def _dialect_branches(tree: ast.Module) -> Iterator[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            if any(isinstance(p, ast.Constant) and p.value in ("sqlite", "postgresql")
                   for p in parts):
                yield node.lineno
        if isinstance(node, ast.Attribute) and node.attr in ("pg", "is_postgres", "is_sqlite"):
            yield node.lineno


def test_dialect_differences_live_only_in_the_store_implementations() -> None:
    # Migrations are history, and the benches choose which database to start.
    found = [f"{name}:{line}" for name, tree in modules(".") if name not in DIALECT_HOMES
             and not name.startswith(("store/migrations/", "bench/"))
             for line in _dialect_branches(tree)]
    assert not found, "\n".join(found)


def _packages(root: Path, marker: str) -> set[str]:
    return {str(d.relative_to(root)) for d in root.rglob("*") if d.is_dir()
            and (d / marker).exists() and "migrations" not in d.parts and d.name != "ui"
            and "__pycache__" not in d.parts}


def test_tests_mirror_the_source_tree() -> None:
    """Every package of the source has a test folder of the same path, and no test folder
    exists for a package that does not."""
    tests = Path(__file__).parent
    assert _packages(SRC, "__init__.py") == _packages(tests, "__init__.py")
