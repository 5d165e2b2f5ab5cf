"""A directed graph of hashable nodes: what fuse needs of one (reachability,
merging two nodes, a topological order by a key), without networkx, which
takes 0.1 s to import and is kiln.viz's dependency, not the compiler's.

Successors and predecessors are insertion-ordered (dicts), as networkx keeps
them, so iteration orders, and with them the passes' results, are the same.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Iterator

from ..ir import CompileError


class Dag:
    def __init__(self) -> None:
        self.succ: dict[Hashable, dict[Hashable, None]] = {}
        self.pred: dict[Hashable, dict[Hashable, None]] = {}

    def add_node(self, n: Hashable) -> None:
        if n not in self.succ:
            self.succ[n], self.pred[n] = {}, {}

    def has_node(self, n: Hashable) -> bool:
        return n in self.succ

    def add_edge(self, a: Hashable, b: Hashable) -> None:
        self.add_node(a)
        self.add_node(b)
        self.succ[a][b] = None
        self.pred[b][a] = None

    def remove_node(self, n: Hashable) -> None:
        for s in self.succ.pop(n):
            del self.pred[s][n]
        for p in self.pred.pop(n):
            del self.succ[p][n]

    def successors(self, n: Hashable) -> Iterator[Hashable]:
        return iter(self.succ[n])

    def has_path(self, a: Hashable, b: Hashable) -> bool:
        """Whether a path leads from `a` to `b` (`a` reaches itself)."""
        seen, stack = {a}, [a]
        while stack:
            n = stack.pop()
            if n is b or n == b:
                return True
            for s in self.succ[n]:
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
        return False

    def contract(self, keep: Hashable, gone: Hashable) -> None:
        """Merge `gone` into `keep`: its edges become `keep`'s (no self-loops)."""
        for s in self.succ[gone]:
            if s != keep:
                self.add_edge(keep, s)
        for p in self.pred[gone]:
            if p != keep:
                self.add_edge(p, keep)
        self.remove_node(gone)


def topological_order(
    nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable]], key: Callable
) -> list[Hashable]:
    """`nodes` in a topological order of `edges`, the smallest `key` first among
    the nodes ready at each step (networkx's lexicographical_topological_sort)."""
    dag = Dag()
    order = {}
    for n in nodes:
        dag.add_node(n)
        order.setdefault(n, len(order))
    for a, b in edges:
        dag.add_edge(a, b)
    indegree = {n: len(p) for n, p in dag.pred.items() if p}
    ready = [(key(n), order[n], n) for n, p in dag.pred.items() if not p]
    heapq.heapify(ready)
    out = []
    while ready:
        _, _, n = heapq.heappop(ready)
        for s in dag.succ[n]:
            indegree[s] -= 1
            if not indegree[s]:
                del indegree[s]
                heapq.heappush(ready, (key(s), order[s], s))
        out.append(n)
    if indegree:
        raise CompileError("a cycle among the ops of a block")
    return out
