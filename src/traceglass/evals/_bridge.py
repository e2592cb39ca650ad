"""``TraceBridge``: stored traces in, evaluation items out.

Each selected trace gives one item (or one per matching span, ``answer="all"``): the prompt and
the answer of the span chosen as "the answer of this trace", the documents its retrievers found,
and the span's model, tokens, cost, latency, session, user and tags. Traces are read a page at a
time, with every span of the page in one store read, so extraction runs at thousands of traces
a second. Traces made by LLM judges (a span marked ``traceglass.eval.judge``) are never items.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from traceglass import semconv
from traceglass.evals import _stores
from traceglass.evals._dataset import EvalDataset
from traceglass.evals._item import COST_USD, LATENCY_MS, EvalItem
from traceglass.store import SpanNode, TraceFilter, TraceSummary

#: Which span answers for a trace: the last span of ``span_type`` to start (the innermost of
#: nested calls), the trace's root span, or every span of ``span_type`` (one item each).
ANSWERS = ("last", "root", "all")
_PAGE = 500  # traces per read: large enough to amortize a query, small enough to stream
_TEXT_PARTS = (None, "text")


class TraceBridge:
    """Turns stored traces into an :class:`EvalDataset`.

    ``store``: a :class:`~traceglass.store.TraceStore`, a database path, or None for the default
    database (``$TRACEGLASS_DB`` or the per-user data directory).
    """

    def __init__(self, store: _stores.StoreLike = None) -> None:
        self.store, self._owned = _stores.resolve(store)

    def close(self) -> None:
        """Close the store when the bridge opened it."""
        if self._owned:
            self.store.close()

    def __enter__(self) -> TraceBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def to_dataset(self, *, span_type: str | None = "llm", name: str | None = None, project: str | None = None,
                   model: str | None = None, since: Any = None, until: Any = None, session_id: str | None = None,
                   user_id: str | None = None, min_score: float | None = None, max_score: float | None = None,
                   score_name: str | None = None, status: str | None = None, limit: int | None = None,
                   answer: str = "last") -> EvalDataset:
        """The items of the traces matching the filters, newest trace first (at most ``limit``).

        ``span_type`` keeps traces with a span of that type and, with ``answer="last"`` (the
        default), makes the last such span to start the item: for a chat call, the model's
        prompt messages and reply. ``answer="root"`` takes the trace's root span instead (the
        decorated function's input and return value); ``answer="all"`` makes an item of every
        span of ``span_type``. ``name`` keeps only answer spans of that name. The other filters
        are the trace list's (``traceglass traces``).
        """
        return EvalDataset(self.iter_items(
            span_type=span_type, name=name, project=project, model=model, since=since, until=until,
            session_id=session_id, user_id=user_id, min_score=min_score, max_score=max_score,
            score_name=score_name, status=status, limit=limit, answer=answer))

    def iter_items(self, *, span_type: str | None = "llm", name: str | None = None, project: str | None = None,
                   model: str | None = None, since: Any = None, until: Any = None, session_id: str | None = None,
                   user_id: str | None = None, min_score: float | None = None, max_score: float | None = None,
                   score_name: str | None = None, status: str | None = None, limit: int | None = None,
                   answer: str = "last") -> Iterator[EvalItem]:
        """The items ``to_dataset`` collects, one page of traces at a time."""
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        where = TraceFilter(project=project, span_type=span_type, session=session_id, user=user_id, model=model,
                            status=status, since=since, until=until, score_name=score_name, min_score=min_score,
                            max_score=max_score)
        made = 0
        cursor = None
        while True:
            page = self.store.list_traces(filter=where, limit=_PAGE, cursor=cursor)
            spans = self.store.trace_spans([summary.trace_id for summary in page.traces])
            for summary in page.traces:
                for item in items_of_trace(summary, spans.get(summary.trace_id, []), span_type=span_type,
                                           name=name, answer=answer):
                    yield item
                    made += 1
                    if limit is not None and made >= limit:
                        return
            cursor = page.next_cursor
            if cursor is None:
                return


    def trace_items(self, trace_id: str, *, span_id: str | None = None, span_type: str | None = "llm",
                    answer: str = "last") -> list[EvalItem]:
        """The items of one stored trace, chosen as :meth:`to_dataset` chooses them; with ``span_id``,
        the item of that span alone. KeyError when the store has no such trace (or span)."""
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}")
        trace = self.store.get_trace(trace_id)
        if trace is None:
            raise KeyError(f"no trace {trace_id!r}")
        spans = trace.spans
        if span_id is None:
            return items_of_trace(trace, spans, span_type=span_type, name=None, answer=answer)
        span = next((s for s in spans if s.span_id == str(span_id).strip().lower()), None)
        if span is None:
            raise KeyError(f"no span {span_id!r} in trace {trace.trace_id}")
        return [_item(span, trace, spans, _context(spans), whole_trace=span is _root(spans))]


def to_dataset(store: _stores.StoreLike = None, **filters: Any) -> EvalDataset:
    """``TraceBridge(store).to_dataset(**filters)``, closing a store it opened."""
    with TraceBridge(store) as bridge:
        return bridge.to_dataset(**filters)


# -- one trace ---------------------------------------------------------------------------------

def items_of_trace(summary: TraceSummary, spans: list[SpanNode], *, span_type: str | None, name: str | None,
                   answer: str) -> list[EvalItem]:
    """The items one trace gives (none for a judge's trace or one without a matching span)."""
    if not spans or any(span.attributes.get(semconv.EVAL_JUDGE) in (True, "true") for span in spans):
        return []
    if answer == "root" or (span_type is None and name is None):
        chosen = [_root(spans)]
    else:
        matching = [span for span in spans
                    if (span_type is None or span.type == span_type) and (name is None or span.name == name)]
        # spans come by start time, so the last to start is the last of the list (a nested call
        # starts after the span around it: the innermost one, which holds the real prompt).
        chosen = matching if answer == "all" else matching[-1:]
    chosen = [span for span in chosen if name is None or span.name == name]
    if not chosen:
        return []
    context = _context(spans)
    root = chosen[0] if answer == "root" else None
    return [_item(span, summary, spans, context, whole_trace=span is root) for span in chosen]


def _root(spans: list[SpanNode]) -> SpanNode:
    ids = {span.span_id for span in spans}
    return next((span for span in spans if span.parent_id is None or span.parent_id not in ids), spans[0])


def _item(span: SpanNode, summary: TraceSummary, spans: list[SpanNode], context: list[str], *,
          whole_trace: bool) -> EvalItem:
    attributes = span.attributes
    metadata: dict[str, Any] = {"span_name": span.name, "span_type": span.type, "status": span.status}
    if whole_trace:
        # The trace's totals count each model call once, across every process that reported it.
        usage = (summary.input_tokens, summary.output_tokens, summary.total_tokens, summary.cost_usd)
        metadata[LATENCY_MS] = summary.latency_ms
        metadata["model"] = span.model or _last_model(spans)
    else:
        usage = (_rollup(attributes, semconv.ROLLUP_INPUT_TOKENS, span.input_tokens),
                 _rollup(attributes, semconv.ROLLUP_OUTPUT_TOKENS, span.output_tokens),
                 _rollup(attributes, semconv.ROLLUP_TOTAL_TOKENS, span.total_tokens),
                 _rollup(attributes, semconv.ROLLUP_COST, span.cost_usd))
        metadata[LATENCY_MS] = span.duration_ms
        metadata["model"] = span.model or _text(attributes.get(semconv.GEN_AI_REQUEST_MODEL))
    for key, value in zip(("input_tokens", "output_tokens", "total_tokens", COST_USD), usage):
        metadata[key] = value
    metadata["session_id"] = span.session or summary.session
    metadata["user_id"] = span.user or summary.user
    metadata["project"] = span.project or summary.project
    tags = attributes.get(semconv.TAGS)
    if isinstance(tags, list) and tags:
        metadata["tags"] = list(tags)
    return EvalItem(input=_input(attributes), output=_output(attributes), context=list(context),
                    metadata={key: value for key, value in metadata.items() if value is not None},
                    trace_id=span.trace_id, span_id=span.span_id)


def _rollup(attributes: dict[str, Any], key: str, own: Any) -> Any:
    value = attributes.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else own


def _last_model(spans: list[SpanNode]) -> str | None:
    return next((span.model for span in reversed(spans) if span.model), None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- content -----------------------------------------------------------------------------------

def _json(value: Any) -> Any:
    """A captured value: JSON text (objects and arrays) parsed, other text kept as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _message(message: Any) -> Any:
    """A GenAI-conventions message as ``{"role", "content"}`` when it holds only text; as stored
    (with its ``parts``: tool calls, images) otherwise."""
    if not isinstance(message, dict) or not isinstance(message.get("parts"), list):
        return message
    parts = message["parts"]
    if not all(isinstance(p, dict) and p.get("type") in _TEXT_PARTS and isinstance(p.get("content"), str)
               for p in parts):
        return message
    return {"role": message.get("role"), "content": "".join(p["content"] for p in parts)}


def _input(attributes: dict[str, Any]) -> Any:
    messages = _json(attributes.get(semconv.GEN_AI_INPUT_MESSAGES))
    if isinstance(messages, list):
        system = _json(attributes.get(semconv.GEN_AI_SYSTEM_INSTRUCTIONS))
        prompt = []
        if isinstance(system, list) and system:  # a list of parts (Responses API instructions, ...)
            prompt.append(_message({"role": "system", "parts": system}))
        elif isinstance(system, str) and system:
            prompt.append({"role": "system", "content": system})
        return prompt + [_message(m) for m in messages]
    if messages is not None:  # not a list of messages: kept as it came, never lost
        return messages
    for key in (semconv.INPUT_VALUE, semconv.GEN_AI_RETRIEVAL_QUERY_TEXT, semconv.GEN_AI_TOOL_CALL_ARGUMENTS):
        if key in attributes:
            return _json(attributes[key])
    return None


def _output(attributes: dict[str, Any]) -> Any:
    messages = _json(attributes.get(semconv.GEN_AI_OUTPUT_MESSAGES))
    if isinstance(messages, list) and messages:
        replies = [_message(m) for m in messages]
        texts = [m["content"] if isinstance(m, dict) and set(m) == {"role", "content"} else m for m in replies]
        return texts[0] if len(texts) == 1 else texts
    if messages is not None:
        return messages
    for key in (semconv.OUTPUT_VALUE, semconv.GEN_AI_TOOL_CALL_RESULT):
        if key in attributes:
            return _json(attributes[key])
    return None


def _context(spans: list[SpanNode]) -> list[str]:
    """The documents every retriever span of the trace found, in order."""
    found: list[str] = []
    for span in spans:
        if span.type != "retriever" and span.operation != "retrieval":
            continue
        documents = _json(span.attributes.get(semconv.GEN_AI_RETRIEVAL_DOCUMENTS))
        if not isinstance(documents, list):
            documents = _json(span.attributes.get(semconv.OUTPUT_VALUE))
        if not isinstance(documents, list):
            continue
        for document in documents:
            content = document.get("content") if isinstance(document, dict) else document
            if content is None:
                continue
            found.append(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
    return found


__all__ = ["ANSWERS", "TraceBridge", "items_of_trace", "to_dataset"]
