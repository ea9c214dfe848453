"""The architecture's one-way data flow, checked on the source: layers, no cycles, no private imports.

Every module of ``src/reconfair`` is parsed with :mod:`ast`; every import is
collected, at module level and inside functions, and so are
``importlib.import_module("reconfair...")`` calls with a string literal.
Three rules:

1. **layers**: a module imports its own package and lower layers only
   (:data:`LAYERS`, low to high), so data flows one way: data and physics,
   the metric functions, the models, mitigation, the report, the engine that
   runs them all and, at the top, the command line;
2. **no cycles** between modules through module-level imports (imports inside
   functions are deferred and may close a loop within a package);
3. **no private names across modules**: ``from x import _name`` and
   ``x._name`` where ``x`` is another module; a helper two modules share is
   public in the module that owns it.

One exception, :data:`LAZY_EXPORTS`: the package's ``__init__`` (bottom
layer) re-exports the public API of ``reconfair.api`` (``from reconfair import
run_study``), importing it only inside its module-level ``__getattr__`` (PEP
562), so ``import reconfair`` itself imports nothing.  The same import anywhere
else in ``__init__`` (at module level, in another function) breaks rule 1.

A failure lists every offending import as ``file:line: rule: detail``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "reconfair"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("reconfair.vocabulary", "reconfair.seeding", "reconfair.registry", "reconfair.progress", "reconfair.__init__"),
    ("reconfair.config",),
    ("reconfair.data", "reconfair.physics"),
    ("reconfair.metrics",),
    ("reconfair.training",),
    ("reconfair.recon", "reconfair.diagnose"),
    ("reconfair.mitigate",),
    ("reconfair.report",),
    ("reconfair.engine",),
    ("reconfair.demo",),
    ("reconfair.api",),
    ("reconfair.cli",),
    ("reconfair.__main__",),
)
"""Packages and top-level modules, low to high: each may import its own package and the layers below.

``reconfair.metrics`` (array and table functions that import nothing but the
bottom layer) sits below the models, whose training scores validation AUROC
and Dice with it (``diagnose.models`` imports ``metrics.task``).  The
package's ``__init__`` holds ``__version__`` and imports nothing when it is
imported, so the engine's cache keys may read it from the bottom layer; its
API names come from ``reconfair.api`` on first use (:data:`LAZY_EXPORTS`).
The entry points are stacked: ``__main__`` runs ``cli``, which serves the
``demo`` study and shares the evaluation's settings with ``api`` (the Python
API over the engine).
"""

LAZY_EXPORTS: dict[str, tuple[str, ...]] = {"reconfair": ("reconfair.api",)}
"""Module -> the higher modules it may import, only inside its module-level ``__getattr__`` (PEP 562)."""
LAZY_FUNCTION = "__getattr__"


@dataclass(frozen=True)
class Import:
    """One import of a reconfair module: where it is, what it names, whether it runs at import time."""

    path: Path
    line: int
    source: str  # the importing module
    target: str  # the imported module (resolved, absolute)
    names: tuple[str, ...]  # names taken from it (``from target import a, b``) or attributes used on it
    top_level: bool
    function: str | None = None  # the module-level function the import sits in, if any

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(SRC.parent)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def _resolve(source: str, path: Path, module: str | None, level: int) -> str:
    if not level:
        return module or ""
    package = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def _top_level_nodes(tree: ast.Module) -> set[int]:
    """ids of the import nodes executed when the module is imported (not inside a def or ``TYPE_CHECKING``)."""
    found: set[int] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.add(id(node))
            elif isinstance(node, ast.If):
                guard = ast.unparse(node.test)
                if "TYPE_CHECKING" not in guard:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.Try, ast.With)):
                visit(node.body)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "orelse", []))
                visit(getattr(node, "finalbody", []))
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return found


def _functions_of_nodes(tree: ast.Module) -> dict[int, str]:
    """id of every node inside a module-level function -> that function's name."""
    return {id(inner): node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for inner in ast.walk(node)}


def imports_of(source: str, path: Path, known: set[str]) -> list[Import]:
    """Every import of a reconfair module by ``source`` (module level, in functions, ``import_module``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = _top_level_nodes(tree)
    within = _functions_of_nodes(tree)
    found: list[Import] = []
    aliases: dict[str, str] = {}  # local name -> module, for ``x._name`` attribute use
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    found.append(Import(path, node.lineno, source, alias.name, (), id(node) in top,
                                        within.get(id(node))))
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(source, path, node.module, node.level)
            if target.split(".")[0] != PACKAGE:
                continue
            names = []
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in known:  # ``from reconfair.metrics import evaluate`` (the module)
                    found.append(Import(path, node.lineno, source, submodule, (), id(node) in top,
                                        within.get(id(node))))
                    aliases[alias.asname or alias.name] = submodule
                else:
                    names.append(alias.name)
            if names or not node.names:
                found.append(Import(path, node.lineno, source, target, tuple(names), id(node) in top,
                                    within.get(id(node))))
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and node.args[0].value.split(".")[0] == PACKAGE):
            found.append(Import(path, node.lineno, source, node.args[0].value, (), False, within.get(id(node))))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
            chain = ast.unparse(node.value)
            if chain in aliases:
                found.append(Import(path, node.lineno, source, aliases[chain], (node.attr,), False))
    return found


def layer_of(module: str) -> int | None:
    if module == PACKAGE:
        module = f"{PACKAGE}.__init__"
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, members in enumerate(LAYERS):
        for member in members:
            if module == member or module.startswith(member + "."):
                if best is None or len(member) > best[0]:
                    best = (len(member), index)
    return None if best is None else best[1]


def package_of(module: str) -> str:
    """``reconfair.metrics`` for ``reconfair.metrics.evaluate``; a top-level module is its own package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _owner(target: str, known: set[str]) -> str:
    """The known module an import names (``reconfair.x.y`` may be a package attribute, not a module)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


def all_imports() -> list[Import]:
    found = modules()
    known = set(found)
    return [imp for name, path in found.items() for imp in imports_of(name, path, known)]


def layer_violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        source_layer, target_layer = layer_of(imp.source), layer_of(imp.target)
        if source_layer is None or target_layer is None:
            what = imp.source if source_layer is None else imp.target
            out.append(f"{imp.where}: layers: {what} is in no layer of LAYERS (tests/test_layers.py)")
            continue
        if package_of(imp.source) == package_of(imp.target):
            continue
        if imp.function == LAZY_FUNCTION and _owner_in(imp.target, LAZY_EXPORTS.get(imp.source, ())):
            continue  # the package's PEP 562 re-export of its public API
        if target_layer >= source_layer:
            out.append(f"{imp.where}: layers: {imp.source} (layer {source_layer}) imports {imp.target} "
                       f"(layer {target_layer}); a module may import its own package and lower layers only")
    return out


def _owner_in(target: str, modules: tuple[str, ...]) -> bool:
    """Whether ``target`` is one of ``modules`` or a name inside one (``reconfair.api.run_study``)."""
    return any(target == m or target.startswith(m + ".") for m in modules)


def private_violations(imports: list[Import], known: set[str]) -> list[str]:
    out = []
    for imp in imports:
        owner = _owner(imp.target, known)
        if owner == imp.source:
            continue
        for name in imp.names:
            if name.startswith("_") and not name.startswith("__"):
                out.append(f"{imp.where}: private: {imp.source} uses {name} of {owner}; make it public "
                           "(in __all__, with a docstring) in the module that owns it")
    return out


def cycle_violations(imports: list[Import], known: set[str]) -> list[str]:
    graph: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if not imp.top_level:
            continue
        target = _owner(imp.target, known)
        if target and target != imp.source:
            graph.setdefault(imp.source, {}).setdefault(target, imp)
    out, seen = [], set()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    steps = "; ".join(f"{graph[a][b].where} {a} -> {b}" for a, b in zip(cycle, cycle[1:]))
                    out.append(f"{graph[node][nxt].where}: cycle: {' -> '.join(cycle)} ({steps})")
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return out


def violations() -> list[str]:
    imports = all_imports()
    known = set(modules())
    found = layer_violations(imports) + cycle_violations(imports, known) + private_violations(imports, known)

    def where(line: str) -> tuple[str, int]:
        path, _, number = line.split(": ")[0].rpartition(":")
        return path, int(number)

    return sorted(found, key=where)


def test_every_module_is_in_a_layer():
    missing = sorted(name for name in modules() if layer_of(name) is None)
    assert not missing, f"modules in no layer of LAYERS: {missing}"


def test_layers_cycles_and_private_names():
    found = violations()
    assert not found, f"{len(found)} import rule(s) broken:\n" + "\n".join(found)


# the checker itself, on small made-up sources


def _check(tmp_path: Path, files: dict[str, str]) -> list[str]:
    global SRC
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    saved, SRC = SRC, tmp_path
    try:
        return violations()
    finally:
        SRC = saved


@pytest.mark.parametrize(("files", "rule"), [
    ({"reconfair/metrics/a.py": "from reconfair.report.b import table\n", "reconfair/report/b.py": ""}, "layers"),
    ({"reconfair/metrics/a.py": "def f():\n    from reconfair.engine import run\n",
      "reconfair/engine/__init__.py": ""}, "layers"),
    ({"reconfair/metrics/a.py": "import importlib\nimportlib.import_module('reconfair.cli')\n",
      "reconfair/cli.py": ""}, "layers"),
    ({"reconfair/metrics/a.py": "from reconfair.metrics.b import _helper\n", "reconfair/metrics/b.py": ""},
     "private"),
    ({"reconfair/metrics/a.py": "from reconfair.metrics import b\nb._helper()\n", "reconfair/metrics/b.py": ""},
     "private"),
    ({"reconfair/metrics/a.py": "from .b import x\n", "reconfair/metrics/b.py": "from .a import y\n"}, "cycle"),
])
def test_checker_finds(tmp_path, files, rule):
    files = {"reconfair/__init__.py": "", "reconfair/metrics/__init__.py": "", "reconfair/report/__init__.py": "",
             **files}
    found = _check(tmp_path, files)
    assert any(f": {rule}: " in line for line in found), found
    assert all(":" in line.split(": ")[0] for line in found)  # file:line first


def test_checker_accepts_one_way_imports(tmp_path):
    files = {"reconfair/__init__.py": "", "reconfair/metrics/__init__.py": "from reconfair.metrics.a import f\n",
             "reconfair/metrics/a.py": "from reconfair.vocabulary import ORIGINAL\n"
                                       "def f():\n    from reconfair.metrics import b\n",
             "reconfair/metrics/b.py": "from reconfair.metrics.a import f\n", "reconfair/vocabulary.py": ""}
    assert _check(tmp_path, files) == []


LAZY_INIT = ("def __getattr__(name):\n    from reconfair import api\n    return getattr(api, name)\n")


def test_checker_accepts_the_packages_lazy_api_in_getattr(tmp_path):
    files = {"reconfair/__init__.py": LAZY_INIT, "reconfair/api.py": "import reconfair\n",
             "reconfair/metrics/__init__.py": "", "reconfair/report/__init__.py": ""}
    assert _check(tmp_path, files) == []


@pytest.mark.parametrize("init", [
    "from reconfair import api\n",                                             # at import time
    "def helper():\n    from reconfair.api import run_study\n",               # another function
    "def __getattr__(name):\n    from reconfair import cli\n",                # not the API module
    "class C:\n    def __getattr__(self, name):\n        from reconfair import api\n",  # a method, not PEP 562
])
def test_checker_allows_the_lazy_api_import_nowhere_else(tmp_path, init):
    files = {"reconfair/__init__.py": init, "reconfair/api.py": "", "reconfair/cli.py": "",
             "reconfair/metrics/__init__.py": "", "reconfair/report/__init__.py": ""}
    found = _check(tmp_path, files)
    assert any(": layers: reconfair (layer 0) imports reconfair." in line for line in found), found


def test_checker_allows_lazy_imports_only_in_the_package_init(tmp_path):
    files = {"reconfair/__init__.py": "", "reconfair/api.py": "", "reconfair/report/__init__.py": "",
             "reconfair/metrics/__init__.py": LAZY_INIT}
    found = _check(tmp_path, files)
    assert any(": layers: reconfair.metrics (layer 3) imports reconfair.api" in line for line in found), found
