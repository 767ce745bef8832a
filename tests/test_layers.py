"""Dependencies point one way (issue 14.4): a walk of ``src/tgo``'s imports (every ``import`` statement,
including the ones inside functions and under ``TYPE_CHECKING``) that fails on a forbidden edge.

Rules: ``messages`` never imports ``webhooks``; ``channels`` (delivery adapters and protocols) imports no
domain package; and no two parts of ``tgo`` (its packages and top-level modules) import each other, even
through others — except for the edges in ``ALLOWED``, each with the reason it is still there."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "tgo"

DOMAIN = {
    "messages",
    "senders",
    "sms",
    "webhooks",
    "media",
    "usage",
    "otp",
    "tenants",
    "users",
    "apikeys",
    "contacts",
    "dashboard",
}
FORBIDDEN: list[tuple[str, set[str], str]] = [
    ("messages", {"webhooks"}, "messages reach webhooks only through tgo.events"),
    ("channels", DOMAIN, "channels are protocol adapters: the domain uses them, never the other way"),
    ("connect_network", DOMAIN, "the reference network is not TGO Business: it shares only the protocol"),
]

# Module-level edges (importer, imported module) that close a cycle between parts and are still allowed.
ALLOWED: dict[tuple[str, str], str] = {
    # Type-only edges (under TYPE_CHECKING): the runtime's typed fields name the classes of the parts it
    # holds, and a Part names the types of what it contributes; at run time nothing here is imported — the
    # wiring (tgo.wiring), above every package, builds the parts and installs the contributions (issue 14.1).
    ("tgo.runtime", "tgo.auth.key_cache"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.auth.rate_limit"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.channels.connect"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.channels.sms_types"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.connect_network.embedded"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.media.storage"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.messages.pacing"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.reachability.directory"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.senders.send_cache"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.sms.sender_cache"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.senders.connect_links"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.optouts.cache"): "the runtime's typed fields (type-only)",
    ("tgo.runtime", "tgo.worker.broker"): "the runtime's typed fields (type-only)",
    ("tgo.part", "tgo.runtime"): "a contribution's signature names the runtime (type-only)",
    ("tgo.part", "tgo.dashboard.web"): "a Part's navigation entries (type-only)",
    ("tgo.part", "tgo.worker.registry"): "a Part's tasks and periodic jobs (type-only)",
    # A part's CLI sub-app uses the CLI's shared options and output helpers from tgo.cli, which mounts it.
    ("tgo.sms.cli", "tgo.cli"): "CLI helpers live in the CLI that mounts the sub-app (issue 14.3)",
    (
        "tgo.connect_network.cli",
        "tgo.cli",
    ): "CLI helpers live in the CLI that mounts the sub-app (issue 14.3)",
    ("tgo.reachability.cli", "tgo.cli"): "CLI helpers live in the CLI that mounts the sub-app (issue 14.3)",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> Iterable[str]:
    """Every tgo module or name ``path`` imports, absolute (``from x import y`` gives ``x`` and ``x.y``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def module_graph() -> dict[str, set[str]]:
    """tgo module → the tgo modules it imports (a ``from m import name`` counts as importing ``m``, and
    ``m.name`` when that is a module)."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, name):
            if imported in modules and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def part(module: str) -> str:
    """The part of tgo a module belongs to: its package, or itself for a top-level module."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def part_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    edges: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for importer, targets in graph.items():
        for target in targets:
            a, b = part(importer), part(target)
            if a != b and (importer, target) not in ALLOWED:
                edges.setdefault((a, b), set()).add((importer, target))
    return edges


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one part (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return module_graph()


def test_the_walk_sees_imports_at_every_level(tmp_path: Path) -> None:
    # Module level, inside functions (a lazy import), under TYPE_CHECKING, and relative imports all count.
    path = tmp_path / "service.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "import tgo.events\n"
        "from . import repository\n"
        "from ..kit.clock import now\n"
        "if TYPE_CHECKING:\n"
        "    from tgo.runtime import Runtime\n"
        "def deliver():\n"
        "    from tgo.channels.connect import ConnectClient\n",
        encoding="utf-8",
    )
    found = set(_imports(path, "tgo.messages.service"))
    assert {
        "tgo.events",
        "tgo.messages.repository",
        "tgo.kit.clock",
        "tgo.runtime",
        "tgo.channels.connect",
    } <= found


def test_the_graph_is_the_real_one(graph: dict[str, set[str]]) -> None:
    assert "tgo.events" in graph["tgo.messages.state"]
    assert "tgo.auth.repository" in graph["tgo.auth.key_cache"]


@pytest.mark.parametrize(("source", "targets", "why"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_no_forbidden_edge(graph: dict[str, set[str]], source: str, targets: set[str], why: str) -> None:
    bad = sorted(
        f"{importer} -> {target}"
        for importer, imported in graph.items()
        for target in imported
        if part(importer) == source and part(target) in targets
    )
    assert not bad, f"{why}: {bad}"


def test_no_cycle_between_parts(graph: dict[str, set[str]]) -> None:
    edges = part_edges(graph)
    found = cycles(edges)
    detail = {
        " <-> ".join(c): sorted(
            f"{i} -> {t}" for (a, b), e in edges.items() if a in c and b in c for i, t in e
        )
        for c in found
    }
    assert not found, f"import cycles between parts of tgo: {detail}"


def test_every_allowed_edge_still_exists(graph: dict[str, set[str]]) -> None:
    # An allowance outlives its reason only until the edge is gone: then it must be removed from the list.
    stale = sorted(f"{i} -> {t}" for i, t in ALLOWED if t not in graph.get(i, set()))
    assert not stale, f"remove these from ALLOWED, the imports are gone: {stale}"


def test_the_cycle_check_catches_a_cycle() -> None:
    assert cycles([("auth", "apikeys"), ("apikeys", "auth"), ("messages", "auth")]) == [["apikeys", "auth"]]
    assert cycles([("messages", "media"), ("messages", "auth"), ("media", "auth")]) == []
