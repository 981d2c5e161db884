"""The package's shape cannot erode: imports go downward only, and `server/` stays an island.

Layers, lowest first (conventions §1, with `report` above `plan` since it renders plans):

    0  specrunner (the version), errors, atomic, manifest.problems
    1  schema_files, spec, ocean.*            (the client SDK knows nothing of specs)
    2  manifest.*, lockfile, wallet
    3  resolve.*
    4  plan
    5  execute.*
    6  report
    7  commands.*, server.*                   (the island is wired in by commands only)
    8  cli
    9  __main__

A module may import its own layer or lower ones. Imports inside functions count (they are
still dependencies); imports under `if TYPE_CHECKING:` do not (they never run). `server/` may
import only itself and the few leaves named in ISLAND_MAY_USE.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "specrunner"

LAYERS: list[tuple[int, str]] = [
    (0, "specrunner"),
    (0, "specrunner.errors"),
    (0, "specrunner.atomic"),
    (0, "specrunner.manifest.problems"),
    (1, "specrunner.schema_files"),
    (1, "specrunner.spec"),
    (1, "specrunner.ocean"),
    (2, "specrunner.manifest"),
    (2, "specrunner.lockfile"),
    (2, "specrunner.wallet"),
    (3, "specrunner.resolve"),
    (4, "specrunner.plan"),
    (5, "specrunner.execute"),
    (6, "specrunner.report"),
    (7, "specrunner.commands"),
    (7, "specrunner.server"),
    (8, "specrunner.cli"),
    (9, "specrunner.__main__"),
]

# What the island may use from outside itself: the error tree, the state-file writer, and the
# wire facts it must share with the client (signatures, ocean-node command names and models).
ISLAND_MAY_USE = (
    "specrunner.errors",
    "specrunner.atomic",
    "specrunner.ocean.signing",
    "specrunner.ocean.node",
    "specrunner.ocean.models",
)

# Third-party packages that only one module may import (conventions §1).
ONLY_IMPORTED_BY = {
    "click": ("specrunner.cli",),
    "eth_account": ("specrunner.ocean.signing",),
    "eth_keys": ("specrunner.ocean.signing",),
    "eth_utils": ("specrunner.ocean.signing",),
}

# `specrunner --version` must stay instant: none of these may load for it.
HEAVY = ("httpx", "pydantic", "jsonschema", "eth_account", "uvicorn", "starlette", "rich", "yaml")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = sorted(module_name(path) for path in PACKAGE.rglob("*.py"))


def layer_of(module: str) -> int:
    """The layer of the longest prefix in LAYERS that names `module` or a package above it."""
    best: tuple[int, int] | None = None
    for layer, prefix in LAYERS:
        named = module == prefix or module.startswith(prefix + ".")
        if named and (best is None or len(prefix) > best[1]):
            best = (layer, len(prefix))
    if best is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS in {__file__}")
    return best[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(module imported, line) for every import that can run, TYPE_CHECKING blocks left out."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            # `from specrunner.server import node_shapes` imports a module, not a name.
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if candidate in MODULES:
                    found.append((candidate, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imports_of(module: str) -> list[tuple[str, int]]:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    return _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))


def test_imports_go_downward_only() -> None:
    upward = [
        f"{module}:{line} imports {target} (layer {layer_of(target)} > {layer_of(module)})"
        for module in MODULES
        for target, line in imports_of(module)
        if target.startswith("specrunner") and layer_of(target) > layer_of(module)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_server_is_an_island() -> None:
    crossings = [
        f"{module}:{line} imports {target}"
        for module in MODULES
        if module.startswith("specrunner.server")
        for target, line in imports_of(module)
        if target.startswith("specrunner")
        and target != "specrunner.server"
        and not target.startswith("specrunner.server.")
        and target not in ISLAND_MAY_USE
        and target != "specrunner.ocean"  # the package itself, on the way to a leaf
    ]
    assert not crossings, "server/ reaches outside its island:\n" + "\n".join(crossings)


def test_nothing_outside_commands_and_cli_imports_the_server() -> None:
    users = [
        f"{module}:{line} imports {target}"
        for module in MODULES
        if not module.startswith(("specrunner.server", "specrunner.commands"))
        for target, line in imports_of(module)
        if target.startswith("specrunner.server")
    ]
    assert not users, "\n".join(users)


@pytest.mark.parametrize("package", sorted(ONLY_IMPORTED_BY))
def test_third_party_package_has_one_importer(package: str) -> None:
    allowed = ONLY_IMPORTED_BY[package]
    importers = sorted(
        f"{module}:{line}"
        for module in MODULES
        for target, line in imports_of(module)
        if (target == package or target.startswith(package + ".")) and module not in allowed
    )
    assert not importers, f"{package} imported outside {allowed}: {importers}"


def test_no_cycles_between_modules() -> None:
    """Module-level imports form no cycle (a cycle makes import order matter)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = ast.Module(
            body=[n for n in tree.body if not isinstance(n, ast.FunctionDef)], type_ignores=[]
        )
        graph[module] = {
            target for target, _ in _runtime_imports(top) if target in MODULES and target != module
        }
    seen: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> None:
        if node in stack:
            cycle = [*stack[stack.index(node) :], node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in seen:
            return
        stack.append(node)
        for target in sorted(graph[node]):
            visit(target)
        stack.pop()
        seen.add(node)

    for module in MODULES:
        visit(module)


def _import_alone(module: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return module, done.stderr.strip().splitlines()[-1] if done.returncode else ""


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    """Each module on its own, as a user's script or a lazy import would load it first."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f"{m}: {error}" for m, error in pool.map(_import_alone, MODULES) if error]
    assert not failures, "\n".join(failures)


def test_version_loads_nothing_heavy() -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['specrunner', '--version']\n"
        "try:\n"
        "    runpy.run_module('specrunner', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
