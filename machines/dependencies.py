"""The `depends_on` graph between components: its cycles and each component's ancestors.

Pure graph walks over `component -> the components it depends on`, shared by the config
(a cycle or an unknown name is an error naming it) and the notification policy (a
child's alert is folded into an ancestor's open incident, parents are decided first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

#: What a component depends on (its `[policy.<component>] depends_on`).
Parents = Callable[[str], Sequence[str]]


def find_cycle(graph: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """A cycle of `graph` as the path that closes it (`("a", "b", "a")`), or None."""
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        # An explicit stack: a long chain must not hit Python's recursion limit.
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                if node in on_path:
                    return (*path[on_path[node]:], node)
                if node in done:
                    continue
                on_path[node] = len(path)
                path.append(node)
            parents = graph.get(node, ())
            if index < len(parents):
                stack.append((node, index + 1))
                stack.append((parents[index], 0))
            else:
                done.add(node)
                path.pop()
                del on_path[node]
    return None


def ancestors(component: str, parents: Parents) -> list[str]:
    """Every component `component` depends on, transitively, nearest first (breadth
    first, in `depends_on` order); a cycle is walked once."""
    seen = {component}
    found: list[str] = []
    frontier = [component]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for parent in parents(node):
                if parent not in seen:
                    seen.add(parent)
                    found.append(parent)
                    following.append(parent)
        frontier = following
    return found


def parents_first(components: Iterable[str], parents: Parents) -> list[str]:
    """`components` ordered so that each comes after every ancestor of it among them
    (by depth: the longest chain of ancestors), otherwise in the order given."""
    depth: dict[str, int] = {}

    def depth_of(component: str) -> int:
        # Iterative: the deepest ancestors are resolved first.
        pending = [component]
        visiting: set[str] = set()
        while pending:
            node = pending[-1]
            if node in depth:
                pending.pop()
                continue
            missing = [p for p in parents(node) if p not in depth and p not in visiting]
            if missing and node not in visiting:
                visiting.add(node)
                pending.extend(missing)
                continue
            depth[node] = 1 + max((depth.get(p, 0) for p in parents(node)), default=-1)
            visiting.discard(node)
            pending.pop()
        return depth[component]

    listed = list(components)
    order = {c: i for i, c in enumerate(listed)}
    return sorted(listed, key=lambda c: (depth_of(c), order[c]))
