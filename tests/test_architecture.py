"""The layer rules of docs/architecture.md, checked on the source tree itself.

Each rule reads the package's modules with ``ast`` (nothing is imported), so a change
that breaks a rule fails here with the file and line that broke it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


from charter.core import routes

SRC = Path(__file__).resolve().parents[1] / "src" / "charter"


def modules(*parts: str) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the package, parsed module) under each folder or file in parts."""
    for part in parts:
        base = SRC / part
        files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
        for path in files:
            yield str(path.relative_to(SRC)), ast.parse(path.read_text(), str(path))


def _package_of(name: str) -> list[str]:
    """The dotted package a module (path relative to the package root) lives in."""
    parts = ["charter", *Path(name).with_suffix("").parts]
    return parts if name.endswith("__init__.py") else parts[:-1]


def imported(tree: ast.Module, name: str = "") -> Iterator[tuple[int, str]]:
    """(line, module) of every ``charter`` import, function-level and relative ones
    included (``from ..store import db`` in policy/ is ``charter.store.db``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name)
                up = package[:len(package) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            if base == "charter" or (node.level and not node.module):
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"
            elif base.startswith("charter."):
                yield node.lineno, base
                for alias in node.names:  # ``from charter.store import db``
                    yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "charter" or alias.name.startswith("charter."):
                    yield node.lineno, alias.name


def offending_imports(parts: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for name, tree in modules(*parts):
        for line, module in imported(tree, name):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                found.append(f"{name}:{line} imports {module}")
    return found


STAGES = ("accounts.py", "audit.py", "usage.py", "profiles.py", "prompt.py", "defaults.py",
          "metrics.py", "drift.py", "rollout.py",
          "backends", "judgement", "knowledge", "policy", "router", "strategies", "store")
UPPER = ("charter.spine", "charter.services", "charter.server", "charter.cli",
         "charter.runtime", "charter.bench", "charter.evaluation")


def test_core_imports_nothing_of_the_rest_of_charter() -> None:
    found = [f"{name}:{line} imports {module}" for name, tree in modules("core")
             for line, module in imported(tree, name) if not module.startswith("charter.core")]
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
                                             "charter.bench", "charter.evaluation"))
    assert not found, '\n'.join(found)


def test_only_the_edges_services_and_benches_open_the_runtime() -> None:
    found = offending_imports(STAGES + ("spine", "core"), ("charter.runtime",))
    found += offending_imports(("runtime.py",), ("charter.services", "charter.server",
                                                 "charter.cli", "charter.bench"))
    assert not found, "\n".join(found)


def test_the_server_never_imports_the_cli_or_the_benches() -> None:
    found = offending_imports(("server",), ("charter.cli", "charter.bench"))
    assert not found, "\n".join(found)


def test_the_server_never_imports_the_cli() -> None:
    found = offending_imports(("server",), ("charter.cli",))
    assert not found, '\n'.join(found)


# What the edges may not reach: the stores and repositories behind the services.
REPOSITORY_ATTRIBUTES = {"db", "aliases", "audit", "accounts", "quotas", "routers", "profiles",
                         "feedback", "policies", "reviews", "use_cases", "documents", "screen",
                         "retriever", "route_log", "rollouts"}
# The server acts as the caller whose key it was given, never as someone else.
IMPERSONATION = {"local_admin", "as_actor"}
STORAGE_CLASSES = {"Database", "Ingestor", "Searcher", "open_store", "SQLiteDocumentStore",
                   "PostgresDocumentStore", "AuditLog", "Accounts",
                   "Quotas", "ReviewQueue", "PolicyRepository", "UseCaseRegister",
                   "AliasRepository", "ProfileRepository", "FeedbackRepository",
                   "RouterRepository", "RouteLog", "RolloutRepository"}


def test_the_edges_write_only_through_services_or_the_gateway() -> None:
    """No module under cli/ or server/ imports storage, constructs a repository, or
    reaches one through the runtime: every write goes through ``charter.services`` (or
    ``gateway.ask`` for chat)."""
    found = offending_imports(("cli", "server"), ("charter.store",))
    for name, tree in modules("cli", "server"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in REPOSITORY_ATTRIBUTES:
                found.append(f"{name}:{node.lineno} reaches .{node.attr}")
            if isinstance(node, ast.Call):
                called = node.func.id if isinstance(node.func, ast.Name) else \
                    node.func.attr if isinstance(node.func, ast.Attribute) else ""
                if called in STORAGE_CLASSES:
                    found.append(f"{name}:{node.lineno} builds {called}")
                if name.startswith("server/") and called in IMPERSONATION:
                    found.append(f"{name}:{node.lineno} acts as {called}()")
    assert not found, "\n".join(found)


def test_route_and_tier_names_are_spelled_only_in_core() -> None:
    names = {routes.FAST, routes.THINKING, routes.PRO, routes.MINI, routes.AUTO,
             routes.TIER_FREE, routes.TIER_PLUS, routes.TIER_PRO, routes.TIER_TEAM}
    found = []
    for name, tree in modules("."):
        if name.startswith(("core/", "store/migrations/")):  # migrations are history
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in names:
                found.append(f"{name}:{node.lineno} {node.value!r}")
    assert not found, "\n".join(found)


# The two database implementations, the knowledge base's two stores, and the schema's
# declaration (which marks the tables and columns one database has and the other lacks).
DIALECT_HOMES = {"store/dialects.py", "knowledge/store/sqlite.py", "knowledge/store/postgres.py",
                 "store/tables.py"}


DIALECT_NAMES = ("sqlite", "postgresql", "postgres")


def _dialect_branches(tree: ast.Module) -> Iterator[int]:
    """Any spelling of a dialect's name (a comparison, a membership test, a dispatch key,
    a prefix check) or a dialect flag: only the implementations know the dialects."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.lower() in DIALECT_NAMES:
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
    """Every package of the source has a test folder of the same path, with tests in it,
    and no test folder exists for a package that does not."""
    tests = Path(__file__).parent
    assert _packages(SRC, "__init__.py") == _packages(tests, "__init__.py")
    empty = sorted(f for f in _packages(tests, "__init__.py")
                   if not any((tests / f).glob("test_*.py")))
    assert not empty, f"test folders without tests: {empty}"


def test_the_rules_catch_what_they_are_for(tmp_path: Path) -> None:
    """Each detector, on a made-up violation (so that a rule cannot pass by finding nothing)."""
    bad = ast.parse("from ..spine import gateway\nimport charter.store.db\n"
                    "x = dialect in ('postgresql',)\nfrom charter.cli import app\n")
    assert [m for _, m in imported(bad, "policy/engine.py")] == [
        "charter.spine", "charter.spine.gateway", "charter.store.db", "charter.cli",
        "charter.cli.app"]
    assert list(_dialect_branches(bad)) == [3]
    edge = ast.parse("def f(rt):\n    rt.accounts.add_user('x')\n    local_admin()\n")
    reached = [n.attr for n in ast.walk(edge) if isinstance(n, ast.Attribute)]
    assert "accounts" in reached and "accounts" in REPOSITORY_ATTRIBUTES
