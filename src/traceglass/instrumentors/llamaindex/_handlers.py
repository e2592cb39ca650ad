"""Our span and event handlers on LlamaIndex's root dispatcher (imported once llama-index is)."""

from __future__ import annotations

from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.span import SimpleSpan, active_span_id
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.tools.types import BaseTool

from traceglass._guard import guard
from traceglass.instrumentors.llamaindex._tracker import TRACKER


class TraceglassSpanHandler(BaseSpanHandler[SimpleSpan]):  # type: ignore[misc]
    """Hands every dispatcher span to the tracker; keeps nothing in the base class's tables."""

    @classmethod
    def class_name(cls) -> str:
        return "TraceglassSpanHandler"

    def new_span(self, id_: str, bound_args: Any, instance: Any = None, parent_span_id: str | None = None,
                 tags: Any = None, **kwargs: Any) -> None:
        with guard("llamaindex.span_enter"):
            TRACKER.enter(id_, parent_span_id, instance, bound_args, tags)
        return None

    def prepare_to_exit_span(self, id_: str, bound_args: Any, instance: Any = None, result: Any = None,
                             **kwargs: Any) -> None:
        with guard("llamaindex.span_exit"):
            TRACKER.exit(id_, result)
        return None

    def prepare_to_drop_span(self, id_: str, bound_args: Any, instance: Any = None,
                             err: BaseException | None = None, **kwargs: Any) -> None:
        with guard("llamaindex.span_drop"):
            TRACKER.drop(id_, err)
        return None


class TraceglassEventHandler(BaseEventHandler):  # type: ignore[misc]
    @classmethod
    def class_name(cls) -> str:
        return "TraceglassEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        with guard("llamaindex.event"):
            TRACKER.event(event)


def wire() -> None:
    """Tell the tracker how to recognise tools and read the active span id."""
    TRACKER.is_tool = lambda instance: isinstance(instance, BaseTool)
    TRACKER.span_var = active_span_id
    try:  # llama-index-workflows (a dependency of llama-index-core 0.13+)
        from llama_index.core.agent.workflow import BaseWorkflowAgent
        from llama_index.core.workflow import Workflow
    except ImportError:  # pragma: no cover - older llama-index-core
        return
    TRACKER.is_workflow = lambda instance: isinstance(instance, Workflow)
    TRACKER.is_agent = lambda instance: isinstance(instance, BaseWorkflowAgent)
    TRACKER.active_span_id = active_span_id.get
