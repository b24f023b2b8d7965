"""No import circle among the modules of bot/, commands/ and config/ (issue 24).

Every import counts: at the top, inside a function, or for type checking only. A circle
means neither module can be read, tested or moved without the other.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import grimp


def first_circle(graph: grimp.ImportGraph) -> list[str] | None:
    """One circle of imports (its modules in order, the first repeated last), or None."""
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    try:
        TopologicalSorter(imports).prepare()
    except CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_import_circle() -> None:
    graph = grimp.build_graph("bot", "commands", "config", cache_dir=None)
    circle = first_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_a_circle_is_found() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("a.p", "a.q"), ("a.q", "a.r"), ("a.r", "a.z")]:
        graph.add_import(importer=importer, imported=imported)
    assert first_circle(graph) is None
    graph.add_import(importer="a.r", imported="a.p")
    circle = first_circle(graph)
    assert circle is not None and set(circle) == {"a.p", "a.q", "a.r"}
    assert circle[0] == circle[-1]
