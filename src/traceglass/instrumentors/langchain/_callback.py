"""A LangChain callback handler that turns runs into traceglass invocations.

Parents follow LangChain's run tree (``run_id`` -> ``parent_run_id``), not the OpenTelemetry
context, because LangChain may report the start and the end of a run from different threads or
tasks (async end callbacks run in a copied context). A run whose parent we know starts under the
parent's span; a root run starts under the current OTel context, so decorator spans above it and
the user's own spans join the same trace.

The handler never attaches a context in a start callback to detach it in the end callback (the
cause of "Failed to detach context" in peers): making a run's span current while the run's own
code executes is done by ``_activate``, in frames that start and end in one context.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from traceglass import semconv
from traceglass._guard import _should_raise, guard
from traceglass._handler import (
    UNSET,
    Invocation,
    LLMInvocation,
    RetrievalInvocation,
    StepInvocation,
    TelemetryHandler,
    ToolInvocation,
    current_invocation,
)
from traceglass._runtime import get_handler
from traceglass.instrumentors.langchain import _activate, _extract
from traceglass.instrumentors.langchain._nodes import graph_node_of, is_control_flow
from traceglass.instrumentors.langchain._ours import OurHandler

SpanType = semconv.SpanType
# LangChain marks its own plumbing runs with this tag; they get no span, their children go to
# the nearest traced ancestor.
_HIDDEN_TAG = "langsmith:hidden"
_MAX_DEPTH = 64  # bound on walking invocation parents


class _Run:
    """What we keep for one open LangChain run."""

    __slots__ = ("run_id", "invocation", "first_token")

    def __init__(self, run_id: UUID, invocation: Invocation) -> None:
        self.run_id = run_id  # for a hidden run's alias entry: the id of the traced ancestor
        self.invocation = invocation
        self.first_token = False


class TraceglassCallbackHandler(BaseCallbackHandler, OurHandler):
    """Makes a span for every LangChain run: chains, models, tools, retrievers, graph nodes.

    Add it to ``config={"callbacks": [...]}`` yourself, or let :class:`LangChainInstrumentor`
    add it to every callback manager. Spans go to ``telemetry`` when given, else to traceglass's
    default handler (looked up per run, so ``traceglass.testing.capture()`` sees them).
    """

    # Called in the caller's frame even by async callback managers (not in a worker thread):
    # cheaper, keeps start/end order, and lets a model run claim the stream step it starts in.
    run_inline = True

    def __init__(self, telemetry: TelemetryHandler | None = None) -> None:
        super().__init__()
        self._telemetry = telemetry
        # run id -> open run. Plain dict operations are atomic under the GIL; each run id is
        # written by its own start and end only.
        self._runs: dict[UUID, _Run] = {}
        _activate.install()

    def invocation_for(self, run_id: UUID | None) -> Invocation | None:
        """The open invocation of a run (or of its nearest traced ancestor, for hidden runs)."""
        run = self._runs.get(run_id) if run_id is not None else None
        return run.invocation if run is not None else None

    def telemetry(self) -> TelemetryHandler:
        return self._telemetry or get_handler()

    @property
    def raise_error(self) -> bool:  # type: ignore[override]
        # LangChain logs and swallows a handler's exceptions unless this is True; under the test
        # suite our own faults must surface (the guard re-raises them there).
        return _should_raise()

    # --- chains and graph nodes ----------------------------------------------------------
    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        with guard("langchain.chain_start"):
            if tags and _HIDDEN_TAG in tags:
                self._alias(run_id, parent_run_id)
                return
            name = _extract.run_name(serialized, kwargs, "chain")
            node = graph_node_of(name, tags, metadata)
            if node is not None:
                inv = StepInvocation(span_type=SpanType.GRAPH_NODE.value, name=name,
                                     graph_node=node[0], graph_step=node[1])
            else:
                inv = StepInvocation(span_type=SpanType.CHAIN.value, name=name)
            inv.input_value = inputs
            self._start(run_id, parent_run_id, inv, SpanKind.INTERNAL)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, inputs: Any = None, **kwargs: Any) -> None:
        if inputs is not None:  # streamed runs start with a placeholder and report their input here
            run = self._runs.get(run_id)
            if run is not None:
                run.invocation.input_value = inputs
        self._end(run_id, outputs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    # --- models --------------------------------------------------------------------------
    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: list[list[Any]], *,
                            run_id: UUID, parent_run_id: UUID | None = None,
                            tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        with guard("langchain.chat_model_start"):
            inv = self._model_invocation(serialized, metadata, kwargs, SpanType.CHAT_MODEL,
                                         semconv.GenAIOperation.CHAT)
            inv.input_messages = _extract.input_messages(messages[0] if messages else [])
            self._start(run_id, parent_run_id, inv, SpanKind.CLIENT)
            _activate.claim_stream(self.telemetry(), inv, _single(kwargs))

    def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        with guard("langchain.llm_start"):
            inv = self._model_invocation(serialized, metadata, kwargs, SpanType.LLM,
                                         semconv.GenAIOperation.TEXT_COMPLETION)
            inv.input_messages = _extract.prompt_messages(prompts)
            self._start(run_id, parent_run_id, inv, SpanKind.CLIENT)
            _activate.claim_stream(self.telemetry(), inv, _single(kwargs))

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is None or run.first_token:
            return
        with guard("langchain.new_token"):
            run.first_token = True
            inv = run.invocation
            if isinstance(inv, LLMInvocation):
                inv.time_to_first_token_s = max(time.time_ns() - inv.start_time_ns, 0) / 1e9
                if not inv.streaming:  # streamed without asking (e.g. LangGraph's messages mode)
                    inv.attributes[semconv.GEN_AI_REQUEST_STREAM] = True

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None and isinstance(run.invocation, LLMInvocation):
            with guard("langchain.llm_result"):
                _extract.apply_result(run.invocation, response)
        self._end(run_id, UNSET)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    # --- tools and retrievers ------------------------------------------------------------
    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        with guard("langchain.tool_start"):
            name = _extract.run_name(serialized, kwargs, "tool")
            inv = ToolInvocation(
                operation=semconv.GenAIOperation.EXECUTE_TOOL,
                tool_name=name,
                tool_description=(serialized or {}).get("description") or None,
                tool_type="function",
                call_id=kwargs.get("tool_call_id"),
            )
            inv.input_value = inputs if inputs is not None else input_str
            self._start(run_id, parent_run_id, inv, SpanKind.INTERNAL)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        value = output
        with guard("langchain.tool_output"):
            value = _extract.tool_output(output)
        self._end(run_id, value)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    def on_retriever_start(self, serialized: dict[str, Any] | None, query: str, *, run_id: UUID,
                           parent_run_id: UUID | None = None, tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        with guard("langchain.retriever_start"):
            name = _extract.run_name(serialized, kwargs, "retriever")
            op = semconv.GenAIOperation.RETRIEVAL
            inv = RetrievalInvocation(name=f"{op} {name}", operation=op, query=query)
            self._start(run_id, parent_run_id, inv, SpanKind.CLIENT)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None and isinstance(run.invocation, RetrievalInvocation):
            with guard("langchain.documents"):
                run.invocation.documents = _extract.documents(documents)
        self._end(run_id, UNSET)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    # --- legacy agents (AgentExecutor): actions are events of the agent's chain run ----------
    def on_agent_action(self, action: Any, *, run_id: UUID, **kwargs: Any) -> None:
        with guard("langchain.agent_action"):
            run = self._runs.get(run_id)
            if run is None:
                return
            run.invocation.attributes[semconv.SPAN_TYPE] = SpanType.AGENT.value
            tool = str(getattr(action, "tool", "") or "")
            inv = StepInvocation(span_type=SpanType.AGENT_ACTION.value, name=f"agent_action {tool}".strip())
            inv.attributes[semconv.GEN_AI_TOOL_NAME] = tool
            inv.input_value = getattr(action, "tool_input", UNSET)
            inv.output_value = getattr(action, "log", UNSET) or UNSET
            telemetry = self._telemetry or get_handler()
            telemetry.start(inv, parent_context=trace.set_span_in_context(run.invocation.span),  # type: ignore[arg-type]
                            activate=False)
            inv.parent = run.invocation
            telemetry.stop(inv)

    def on_agent_finish(self, finish: Any, *, run_id: UUID, **kwargs: Any) -> None:
        with guard("langchain.agent_finish"):
            run = self._runs.get(run_id)
            if run is not None:
                run.invocation.attributes[semconv.SPAN_TYPE] = SpanType.AGENT.value

    # --- the core: one start, one end, one error path -----------------------------------
    def _model_invocation(self, serialized: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None,
                          kwargs: Mapping[str, Any], span_type: SpanType, operation: str) -> LLMInvocation:
        params = kwargs.get("invocation_params") or {}
        model = _extract.model_of(metadata, params)
        inv = LLMInvocation(
            span_type=span_type.value,
            operation=operation,
            provider=_extract.provider_of(serialized, metadata),
            request_model=model,
            # The spec's "{operation} {model}" comes from the handler; without a model, the run's name.
            name=None if model else _extract.run_name(serialized, kwargs, span_type.value),
        )
        _extract.apply_request(inv, params, metadata)
        return inv

    def _start(self, run_id: UUID, parent_run_id: UUID | None, inv: Invocation, kind: SpanKind) -> None:
        telemetry = self._telemetry or get_handler()
        if not telemetry.enabled:
            return
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        parent_inv = parent.invocation if parent is not None else None
        if parent_inv is None or parent_inv.span is None or _inside(parent_inv):
            # A root run, or a run started under a span opened inside its parent's body (a
            # decorated helper in a graph node): the current context is the more precise parent.
            telemetry.start(inv, kind=kind, activate=False)
        else:
            telemetry.start(inv, kind=kind, parent_context=trace.set_span_in_context(parent_inv.span),
                            activate=False)
            inv.parent = parent_inv  # the run tree, not whatever was current
        self._runs[run_id] = _Run(run_id, inv)

    def _alias(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        if parent is not None:
            self._runs[run_id] = _Run(parent.run_id, parent.invocation)

    def _end(self, run_id: UUID, output: Any) -> None:
        run = self._runs.pop(run_id, None)
        if run is None or run.run_id != run_id:
            return
        with guard("langchain.end"):
            if output is not UNSET:
                run.invocation.output_value = output
            (self._telemetry or get_handler()).stop(run.invocation)

    def _error(self, run_id: UUID, error: BaseException) -> None:
        run = self._runs.pop(run_id, None)
        if run is None or run.run_id != run_id:
            return
        with guard("langchain.error"):
            telemetry = self._telemetry or get_handler()
            # A consumer that stops reading a stream early, and LangGraph's interrupts and
            # Command jumps, end a run without failing it.
            if isinstance(error, GeneratorExit) or is_control_flow(error):
                telemetry.stop(run.invocation)
            else:
                telemetry.fail(run.invocation, error)


def _inside(parent: Invocation) -> bool:
    """Whether the current context is ``parent``'s body or something opened within it."""
    current = current_invocation()
    for _ in range(_MAX_DEPTH):
        if current is None:
            return False
        if current is parent:
            return True
        current = current.parent
    return False


def _single(kwargs: Mapping[str, Any]) -> bool:
    """Whether a model run is the only one of its ``generate`` call.

    Several prompts in one ``generate`` start all their runs before any model call, in one
    context; making each current in turn would nest one prompt's HTTP span under another's run.
    """
    size = kwargs.get("batch_size")
    return not isinstance(size, int) or size <= 1
