"""LangGraph: telling node runs apart, and its control-flow exceptions from failures.

LangGraph reports each node execution as a chain run named after the node, tagged
``graph:step:N`` and carrying ``langgraph_node``/``langgraph_step`` metadata (langgraph 1.2, tested).
That metadata is inherited by everything the node calls, so a run is the node itself only when
its name is the node's name and it carries the step tag.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

_NODE_KEY = "langgraph_node"
_STEP_KEY = "langgraph_step"
_STEP_TAG = "graph:step:"
# Exceptions LangGraph raises to steer the graph (interrupts, Command(graph=PARENT) jumps).
_CONTROL_FLOW = frozenset({"GraphBubbleUp", "GraphInterrupt", "NodeInterrupt", "ParentCommand"})


def graph_node_of(name: str, tags: Sequence[str] | None, metadata: Mapping[str, Any] | None
                  ) -> tuple[str, int | None] | None:
    """``(node, step)`` when this chain run is a LangGraph node execution, else None."""
    if not metadata:
        return None
    node = metadata.get(_NODE_KEY)
    if not isinstance(node, str) or node != name:
        return None
    if tags is not None and tags and not any(t.startswith(_STEP_TAG) for t in tags):
        return None
    step = metadata.get(_STEP_KEY)
    return node, step if isinstance(step, int) and not isinstance(step, bool) else None


def is_control_flow(error: BaseException) -> bool:
    """True for LangGraph's control-flow exceptions, which end a run without failing it."""
    return any(cls.__name__ in _CONTROL_FLOW for cls in type(error).__mro__)
