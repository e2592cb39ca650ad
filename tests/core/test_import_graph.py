"""traceglass's own modules import each other in one direction: no import cycles.

The graph is built from the source with ``ast``: every ``import``/``from ... import`` of a
traceglass module, at module level and inside functions (a function-level import hides a cycle
from Python, not from the reader), except those under ``if TYPE_CHECKING:`` (never run) and under
``if __name__ == "__main__":`` (run only when the module is the script, as ``__main__``, a module
object of its own). ``from package import name`` is an edge to ``package.name`` when that is a
module, else to ``package``. Imports by a computed name (``importlib.import_module(variable)``)
are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "src" / "traceglass"
PACKAGE = "traceglass"

# Cycles that exist today, each to be broken by its owner: one entry per strongly connected
# component of the graph (every module in it reaches every other), e.g.
#     frozenset({"traceglass.a", "traceglass.b"}),  # a -> b at module level, b -> a in a function
# Empty since issue 13. Never add to it: a new cycle is a design error. When one is broken, delete its entry.
_KNOWN_CYCLES: list[frozenset[str]] = []


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path = ROOT) -> dict[str, Path]:
    return {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:`` and ``if __name__ == "__main__":``."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and (_is_type_checking(node.test) or _is_main_guard(node.test)):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` stands for (``a.b.attr`` -> ``a.b``), if it is one of ours."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imported_names(name: str, path: Path) -> list[str]:
    """Every dotted name ``name``'s source imports (``from a import b`` gives ``a.b``), made absolute."""
    found: list[str] = []
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:  # relative: from the package this module is in (or is)
            anchor = name.split(".")
            anchor = anchor[: len(anchor) - node.level + (1 if path.name == "__init__.py" else 0)]
            base = ".".join([*anchor, *([base] if base else [])])
        found.extend(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target in imported_names(name, path):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                module = _resolve(target, modules)
                if module is not None and module != name:
                    graph[name].add(module)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
    return found


def _describe(component: frozenset[str], graph: dict[str, set[str]]) -> str:
    edges = sorted(f"{a} -> {b}" for a in component for b in graph[a] if b in component)
    return "{" + ", ".join(sorted(component)) + "} via " + "; ".join(edges)


def test_the_graph_sees_module_and_function_level_imports_but_not_type_checking_or_main_ones(tmp_path):
    root = tmp_path / "traceglass"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from traceglass.a import thing\n",
        "a.py": ("from __future__ import annotations\nimport typing\nfrom typing import TYPE_CHECKING\n"
                 "import json\nimport traceglass.b\nif TYPE_CHECKING:\n    from traceglass import c\n"
                 "if typing.TYPE_CHECKING:\n    import traceglass.d\nelse:\n    import traceglass.e\n"
                 "thing = 1\n"),
        "b.py": "def f():\n    from traceglass.sub import g\n    return g\n",
        "c.py": "from . import a\nfrom .sub.g import name\n",
        "d.py": "",
        "e.py": "if __name__ == '__main__':\n    from traceglass import a\n",
        "sub/__init__.py": "from . import g\nfrom .. import d\n",
        "sub/g.py": "from traceglass import thing\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    assert import_graph(_modules(root)) == {
        "traceglass": {"traceglass.a"},
        "traceglass.a": {"traceglass.b", "traceglass.e"},
        "traceglass.b": {"traceglass.sub.g"},
        "traceglass.c": {"traceglass.a", "traceglass.sub.g"},
        "traceglass.d": set(),
        "traceglass.e": set(),
        "traceglass.sub": {"traceglass.sub.g", "traceglass.d"},
        "traceglass.sub.g": {"traceglass"},
    }
    assert cycles(import_graph(_modules(root))) == {
        frozenset({"traceglass", "traceglass.a", "traceglass.b", "traceglass.sub.g"})}


def test_a_cycle_is_found_whatever_its_length():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(graph) == {frozenset({"a", "b", "c"})}
    assert cycles({"a": {"b"}, "b": set()}) == set()


def test_no_import_cycles_beyond_the_known_ones():
    graph = import_graph(_modules())
    new = cycles(graph) - set(_KNOWN_CYCLES)
    assert not new, "import cycle(s):\n" + "\n".join(_describe(c, graph) for c in sorted(new, key=sorted))


def test_every_known_cycle_still_exists():
    # A broken cycle (or one grown into a larger one) must leave the allow-list, so it cannot come back unseen.
    found = cycles(import_graph(_modules()))
    stale = [sorted(c) for c in _KNOWN_CYCLES if c not in found]
    assert not stale, f"no longer a cycle, delete from _KNOWN_CYCLES: {stale}"


def test_only_the_cli_package_parses_arguments_or_prints_for_people():
    # store/, server/ and demo/ offer functions; cli/ owns the options, the output and CommandError.
    # (demo/fake_openai.py runs `traceglass demo-server` under `if __name__ == "__main__":`, not seen here.)
    misplaced = []
    for name, path in _modules().items():
        if name.startswith(("traceglass.store", "traceglass.server", "traceglass.demo")):
            misplaced += [f"{name} imports {target}" for target in imported_names(name, path)
                          if target.split(".")[0] in ("argparse", "rich")
                          or target == "traceglass.cli" or target.startswith("traceglass.cli.")]
    assert misplaced == []


# --- Layers: the one direction imports flow (docs/architecture.md, "Overview") -----------------------------------
# Lowest first. A module may import from its own layer or a lower one, never a higher one. A module is placed by
# its own name or its nearest listed package; the entry "traceglass" is the package's __init__ alone (the public
# facade), so a new top-level module must be placed here before this test passes.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Names and values: attribute keys and enumerations (spec + traceglass.*), the version. Import nothing of ours.
    ("vocabulary", ("traceglass.semconv", "traceglass._version")),
    # Plain rules and helpers that make no span: the guard, the session context, Settings, the iterators and
    # the scope runner the decorators use, durations and sizes (_units), text UTF-8
    # can encode (_unicode), prices and model names (_pricing), the span-usage reader, the no-double-counting roll-up rule,
    # the score model and its checks (_scores), passwords masked in URLs and connection strings (_secrets), the
    # count of changes to what our processors forward spans to (_pipeline_changes), a thread owner's reset in a
    # forked child (_after_fork), where a span's maker may leave work to the hand-off thread (_deferred_end).
    ("foundations", ("traceglass._guard", "traceglass._context", "traceglass._config", "traceglass._units",
                     "traceglass._unicode", "traceglass._pricing", "traceglass._stepped", "traceglass._wrapping",
                     "traceglass._span_usage", "traceglass.rollup", "traceglass._scores", "traceglass._sampling",
                     "traceglass._secrets", "traceglass._pipeline_changes", "traceglass._after_fork",
                     "traceglass._deferred_end", "traceglass._ended_span")),
    # The one telemetry handler: typed invocations in, spans and metrics out. It never looks up the runtime.
    ("handler", ("traceglass._handler",)),
    # The runtime in force: a settings snapshot, the handler built with it, configure()'s pipeline.
    ("runtime", ("traceglass._runtime",)),
    # What fills invocations and hands them to the handler: the decorators, update_current_span_attributes,
    # the auto-instrumentors (OpenAI, LangChain, threading), traceglass.score() (_scoring: checks a score, emits its event).
    ("instrumentation", ("traceglass.decorators", "traceglass.current_span", "traceglass.instrumentors",
                         "traceglass._scoring")),
    # What happens to a finished span, whoever made it: session attributes, cost and roll-ups, batching, fan-out.
    ("processors", ("traceglass.processors",)),
    # Where traces are kept and how they are read: TraceWriter, TraceStore, TraceFilter, the SQLite backend.
    ("store", ("traceglass.store",)),
    # The SDK's SpanExporter contract over the store (SQLite), and exporters by name (OTLP, console).
    ("exporters", ("traceglass.exporters",)),
    # Assembly: configure() (_setup), the public facade, opentelemetry-instrument's distro, the test kit.
    ("assembly", ("traceglass._setup", "traceglass", "traceglass.distro", "traceglass.testing")),
    # Quality: what judges finished traces over the assembled library: evaluations (datasets, scorers, runs,
    # schedules, online metrics) and alerts (rules over the stored traces, their evaluation, notifications).
    ("quality", ("traceglass.evals", "traceglass.alerts")),
    # Applications over the library: the server (REST, OTLP receiver, dashboard) and the demo.
    ("applications", ("traceglass.server", "traceglass.demo")),
    # The traceglass command and `python -m traceglass`: over everything, imported by nothing of ours.
    ("command line", ("traceglass.cli", "traceglass.__main__")),
]

# Beside the order: spans are *made* on one side (handler, runtime, instrumentation) and *handled* on the other
# (processors, store, exporters), which takes any SDK span: ours, another instrumentation's, one received over
# OTLP. The order already stops the making side importing the handling side; this stops the reverse.
MAKING_SIDE = ("handler", "runtime", "instrumentation")
HANDLING_SIDE = ("processors", "store", "exporters")

# Imports that go up a layer today, each to be moved by its owner: (importer, imported), a comment saying why.
# Never add to it: an upward import is a design error. When one is gone, delete its entry.
_KNOWN_UPWARD: list[tuple[str, str]] = [
    # none today
]


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]] = LAYERS) -> int | None:
    """The index in ``layers`` of ``module``'s own entry or its nearest listed package (None: not placed).

    The package's root name stands for its ``__init__`` alone, never for the modules under it.
    """
    index = {name: position for position, (_, names) in enumerate(layers) for name in names}
    candidate = module
    while True:
        if candidate in index:
            return index[candidate]
        candidate = candidate.rpartition(".")[0]
        if "." not in candidate:  # the root: only an exact match counts
            return None


def upward_imports(graph: dict[str, set[str]],
                   layers: list[tuple[str, tuple[str, ...]]] = LAYERS) -> set[tuple[str, str]]:
    """Every edge ``(a, b)`` of ``graph`` whose ``b`` sits in a higher layer than ``a``."""
    return {(a, b) for a, targets in graph.items() for b in targets
            if layer_of(a, layers) is not None and layer_of(b, layers) is not None
            and layer_of(b, layers) > layer_of(a, layers)}


def _layer_name(module: str) -> str:
    position = layer_of(module)
    return "unplaced" if position is None else LAYERS[position][0]


def test_layers_place_a_module_by_its_nearest_listed_package_and_find_upward_imports():
    layers = [("low", ("pkg.base",)), ("mid", ("pkg.core", "pkg")), ("high", ("pkg.app.main",))]
    assert [layer_of(m, layers) for m in ("pkg.base", "pkg.base.x.y", "pkg.core._a", "pkg", "pkg.app.main.z")] \
        == [0, 0, 1, 1, 2]
    assert layer_of("pkg.other", layers) is None  # the root entry covers the package's __init__ only
    assert layer_of("pkg.app", layers) is None
    graph = {"pkg.base": {"pkg.core"}, "pkg.core._a": {"pkg.base", "pkg"}, "pkg": {"pkg.app.main"},
             "pkg.app.main": {"pkg.core._a", "pkg.base.x"}, "pkg.base.x": set(), "pkg.other": {"pkg.app.main"}}
    assert upward_imports(graph, layers) == {("pkg.base", "pkg.core"), ("pkg", "pkg.app.main")}


def test_every_module_has_a_layer():
    unplaced = sorted(name for name in _modules() if layer_of(name) is None)
    assert unplaced == [], "place these modules in LAYERS (docs/architecture.md says where): " + ", ".join(unplaced)


def test_imports_flow_down_the_layers():
    graph = import_graph(_modules())
    new = sorted(upward_imports(graph) - set(_KNOWN_UPWARD))
    assert not new, "imports going up a layer:\n" + "\n".join(
        f"{a} ({_layer_name(a)}) -> {b} ({_layer_name(b)})" for a, b in new)


def test_every_known_upward_import_still_exists():
    found = upward_imports(import_graph(_modules()))
    stale = [edge for edge in _KNOWN_UPWARD if edge not in found]
    assert not stale, f"no longer an upward import, delete from _KNOWN_UPWARD: {stale}"


def test_the_span_handling_side_does_not_import_the_span_making_side():
    making = {position for position, (name, _) in enumerate(LAYERS) if name in MAKING_SIDE}
    handling = {position for position, (name, _) in enumerate(LAYERS) if name in HANDLING_SIDE}
    assert len(making) == len(MAKING_SIDE) and len(handling) == len(HANDLING_SIDE)  # the names are LAYERS' own
    graph = import_graph(_modules())
    crossing = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                      if layer_of(a) in handling and layer_of(b) in making)
    assert crossing == []
