"""What a streamed chunk costs: instructions per chunk a tracer adds to a Chat Completions stream.

The real ``openai`` SDK over an in-process ``httpx.MockTransport`` that answers as the API does:
``stream_options.include_usage`` set, every chunk carries ``"usage": null`` and one more chunk
(no choices, the usage) comes before ``[DONE]``; not set, neither. Two streams, of 50 and of 500
text chunks; per chunk = ((setup - none) at 500 - (setup - none) at 50) / 450, so the call's fixed
cost (request, span, attributes) drops out and what is left is what the tracer does per chunk, its
fold at the end included.

Two ways of calling:

- ``asked``: the caller sets ``stream_options={"include_usage": True}`` (the chunks pass through);
- ``default``: the caller does not. traceglass asks for the usage itself and hides what the caller
  did not ask for (the usage chunk, and the ``"usage": null`` on every chunk), so its figure
  includes what asking costs: the SDK parses a ``"usage": null`` on every chunk, which the
  untraced call is not sent. openai-v2 does not ask, and records no usage for such a stream.

Setups: ``none``; ``traceglass`` (its OpenAI instrumentor, content on); ``openai-v2`` (content on,
SPAN_ONLY); with ``--isolated`` also ``traceglass-nocontent`` (content capture off: no text or tool calls
recorded, so the fold reads only the finish reasons and the usage, from the stream's end) and ``traceglass-handoff``
(content on, the spans going through ``configure()``'s hand-off: the chunks' folds and the span's end are then queued
for the ``traceglass-span-end`` thread, whose instructions are not counted: the figure is the calling thread's; the
work it left, folds included, is what ``traceglass`` counts on the calling thread). Each with a TracerProvider
whose SimpleSpanProcessor drops the spans (``_harness.tracer_provider``; for ``traceglass-handoff`` behind a
``HandOffSpanProcessor``, the provider's one processor, as under ``configure()``).

Counted under callgrind (``--toggle-collect``, one loop per dump, as bench_openai.py counts), so the
machine's load does not enter. The SDK spends ~800,000 instructions on a chunk itself, and where
its objects land in memory moves that by a few thousand from one process to the next (the same
code counted in two processes has differed by ~6,000 a chunk): each setup is counted in
``--layouts`` processes whose environments differ in size (the first as it is, the others with a
variable of 7, 517, 1,331, ... characters more), and the table gives the median per chunk and the
range. Even so, two runs of this script have differed by more than the range of either: read the
per-chunk figures to a few thousand instructions.

    python benchmarks/bench_stream_chunks.py [--streams 3] [--layouts 5]
    python benchmarks/bench_stream_chunks.py --isolated --layouts 2
    python benchmarks/bench_stream_chunks.py --isolated --anthropic --layouts 2   # Anthropic's events instead

``--isolated`` (which also counts the same streams read by ``async for`` from an ``AsyncOpenAI``)
leaves the SDK's own per-chunk work out (~800,000 instructions a chunk, and most of
the noise): the resource's ``_post`` hands ``create`` an ``openai.Stream`` over chunk models built
beforehand, and each setup counts its untraced loops, then its traced ones, in one process (two
untraced counts of a loop in one process agree to ~20 instructions a chunk). The ``"usage": null``
that asking adds is then not parsed: the default way's figure is the tracer's own work only. Its table
also gives the reading floor: what reading each chunk's text, tool calls, finish reason and index off the
SDK's models costs untraced (three reads through pydantic's ``__getattr__`` hook a chunk), a ceiling under
any tracer that records them.

Appends a dated section to benchmarks/results/stream_chunks.txt.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _harness  # noqa: E402
import bench_anthropic  # noqa: E402
import bench_openai  # noqa: E402

SETUPS = ("none", "traceglass", "openai-v2")
# --isolated also counts traceglass with content capture off (its fold then reads the finish reasons and usage only),
# and traceglass behind configure()'s hand-off (the folds and the span's end on the hand-off thread, not counted).
ISOLATED_SETUPS = ("traceglass", "traceglass-handoff", "traceglass-nocontent", "openai-v2")
LENGTHS = (50, 500)
# Characters of environment added per process layout (odd sizes: the layouts differ in alignment as well as size).
_PADDING = (0, 7, 517, 1331, 2749, 4099)
WAYS = ("asked", "default")


def _sse(length: int, usage: bool) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None, choices: bool = True, **extra: Any) -> str:
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1", **extra,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else []}
        return f"data: {json.dumps(body)}\n\n"

    null = {"usage": None} if usage else {}
    pieces = [chunk({"role": "assistant", "content": ""}, **null)]
    pieces += [chunk({"content": f"word{i} "}, **null) for i in range(length - 2)]
    pieces.append(chunk({}, "stop", **null))
    if usage:
        pieces.append(chunk({}, choices=False, usage=bench_openai.USAGE))
    return ("".join(pieces) + "data: [DONE]\n\n").encode()


def _calls(isolated: bool = False) -> dict[str, Any]:
    import openai
    import openai._base_client as base_client

    httpx = getattr(base_client, "httpx2", None) or base_client.httpx
    bodies = {(n, usage): _sse(n, usage) for n in LENGTHS for usage in (False, True)}

    def handler(request: Any) -> Any:
        sent = json.loads(request.content)
        usage = bool((sent.get("stream_options") or {}).get("include_usage"))
        length = int(sent["metadata"]["chunks"])
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=bodies[length, usage])

    client = openai.OpenAI(api_key="sk-bench", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))

    def stream(length: int, asked: bool) -> Any:
        options = {"stream_options": {"include_usage": True}} if asked else {}
        return lambda: [c for c in client.chat.completions.create(
            model="gpt-4o-mini", messages=bench_openai.MESSAGES, stream=True, metadata={"chunks": str(length)},
            **options)]

    calls = {f"{way}/{n}": stream(n, way == "asked") for way in WAYS for n in LENGTHS}
    if isolated:
        _prebuilt(client, bodies, httpx)
        calls.update(_async_calls(bodies, httpx))
    return calls


def _async_calls(bodies: dict[tuple[int, bool], bytes], httpx: Any) -> dict[str, Any]:
    """``--isolated``: the same streams from an ``openai.AsyncOpenAI`` read by ``async for``, each call run to
    completion on one event loop (its own cost, the same untraced and traced)."""
    import asyncio

    import openai

    client = openai.AsyncOpenAI(api_key="sk-bench", max_retries=0)
    _prebuilt(client, bodies, httpx)
    loop = asyncio.new_event_loop()

    def stream(length: int, asked: bool) -> Any:
        options = {"stream_options": {"include_usage": True}} if asked else {}

        async def read() -> list[Any]:
            chunks = await client.chat.completions.create(
                model="gpt-4o-mini", messages=bench_openai.MESSAGES, stream=True, metadata={"chunks": str(length)},
                **options)
            return [c async for c in chunks]

        return lambda: loop.run_until_complete(read())

    return {f"async {way}/{n}": stream(n, way == "asked") for way in WAYS for n in LENGTHS}


def _models(cls: Any, body: bytes) -> list[Any]:
    """The chunk models of an SSE body: each ``data:`` line's JSON through ``model_validate``."""
    lines = body.decode().split("\n\n")
    return [cls.model_validate(json.loads(line[6:])) for line in lines if line.startswith("data: {")]


def _reading_floor() -> dict[str, Any]:
    """``--isolated``: the ceiling under any tracer that records a stream's text, tool calls and finish
    reasons: reading them off each chunk model, untraced, nothing kept. Each field through pydantic's
    models: the chunk's ``choices``, each choice's fields, each delta's fields."""
    from openai.types.chat import ChatCompletionChunk

    built = {n: _models(ChatCompletionChunk, _sse(n, True)) for n in LENGTHS}

    def read(chunks: list[Any]) -> Any:
        content = calls = index = reason = None
        for chunk in chunks:
            for choice in chunk.choices:
                fields = choice.__dict__
                delta = fields["delta"].__dict__
                content = delta["content"]
                calls = delta["tool_calls"]
                index = fields["index"]
                reason = fields["finish_reason"]
        return content, calls, index, reason

    return {f"read/{n}": (lambda chunks=built[n]: read(chunks)) for n in LENGTHS}


def _prebuilt(client: Any, bodies: dict[tuple[int, bool], bytes], httpx: Any) -> None:
    """``--isolated``: the resource's ``_post`` hands ``create`` an ``openai.Stream`` (``AsyncStream`` for an
    async client) over chunk models
    built beforehand from the same bodies (with the usage chunk and ``"usage": null`` when the request
    asked for it, in ``stream_options`` or ``extra_body``), as bench_openai.py's isolated stream."""
    import openai
    from openai.types.chat import ChatCompletionChunk

    built = {key: _models(ChatCompletionChunk, body) for key, body in bodies.items()}
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")

    def chunks(body: Any, options: Any) -> list[Any]:
        extra = (options or {}).get("extra_json") or {}
        asked = bool((body.get("stream_options") or extra.get("stream_options") or {}).get("include_usage"))
        return built[int(body["metadata"]["chunks"]), asked]

    def post(path: str, *, body: Any = None, options: Any = None, **kwargs: Any) -> Any:
        out = openai.Stream.__new__(openai.Stream)
        out.response = httpx.Response(200, request=request)
        out._iterator = iter(chunks(body, options))
        return out

    async def async_post(path: str, *, body: Any = None, options: Any = None, **kwargs: Any) -> Any:
        async def iterate(items: list[Any]) -> Any:
            for item in items:
                yield item

        out = openai.AsyncStream.__new__(openai.AsyncStream)
        out.response = httpx.Response(200, request=request)
        out._iterator = iterate(chunks(body, options))
        return out

    client.chat.completions._post = async_post if isinstance(client, openai.AsyncOpenAI) else post


def worker(setup: str, streams: int, isolated: bool = False, anthropic: bool = False) -> dict[str, Any]:
    """Count each call's loop; ``isolated``: untraced first, then traced, in this one process."""
    provider, _ = _harness.tracer_provider(hand_off=setup == "traceglass-handoff")
    calls = _anthropic_calls() if anthropic else _calls(isolated)
    phases = ("bare", "traced") if isolated else (setup,)
    _harness.client_requests().tg_start()
    loops = []
    chunks = {}
    for phase in phases:
        if phase != "none" and phase != "bare":
            (bench_anthropic if anthropic else bench_openai).instrumentor(setup, provider)()
        for name, call in calls.items():
            for _ in range(2):  # warm
                call()
            provider.force_flush()  # the hand-off's thread idle before the count (a no-op elsewhere)
            _harness.counted_loop(call, streams)
            provider.force_flush()
            loops.append(f"{phase}:{name}" if isolated else name)
        chunks[phase] = {name: len(call()) for name, call in calls.items()}
    if isolated and not anthropic:
        for name, call in _reading_floor().items():
            call()
            _harness.counted_loop(call, streams)
            loops.append(f"floor:{name}")
    return {"loops": loops, "chunks": chunks[phases[-1]], "bare_chunks": chunks.get("bare"),
            "versions": _harness.versions("anthropic" if anthropic else "openai", "opentelemetry-sdk",
                                          "opentelemetry-instrumentation-openai-v2")}


def _anthropic_calls() -> dict[str, Any]:
    """``--anthropic`` (isolated only): Anthropic Messages streams of 50 and 500 text deltas (bench_anthropic.py's
    events, the delta repeated), their event models built beforehand, read by ``for`` from an ``Anthropic`` and by
    ``async for`` from an ``AsyncAnthropic``."""
    import asyncio

    import anthropic
    import anthropic._base_client as base_client
    from anthropic.types import RawMessageStreamEvent
    from pydantic import TypeAdapter

    httpx = getattr(base_client, "httpx2", None) or base_client.httpx
    adapter = TypeAdapter(RawMessageStreamEvent)
    events = [adapter.validate_python(e) for e in bench_anthropic._events() if e["type"] != "ping"]
    deltas = [i for i, event in enumerate(events) if event.type == "content_block_delta"]
    built = {n: [*events[:deltas[0]], *[events[deltas[0]]] * n, *events[deltas[-1] + 1:]] for n in LENGTHS}
    request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")

    def stream(cls: Any, body: Any, iterator: Any) -> Any:
        out = cls.__new__(cls)
        out.response = httpx.Response(200, request=request)
        out.__dict__["_iterator"] = iterator(built[int(body["metadata"]["user_id"])])  # a cached_property
        return out

    async def async_iterator(items: list[Any]) -> Any:
        for item in items:
            yield item

    async def async_post(path: str, *, body: Any = None, **kwargs: Any) -> Any:
        return stream(anthropic.AsyncStream, body, async_iterator)

    sync_client = anthropic.Anthropic(api_key="sk-bench", max_retries=0)
    sync_client.messages._post = lambda path, *, body=None, **kwargs: stream(anthropic.Stream, body, iter)
    async_client = anthropic.AsyncAnthropic(api_key="sk-bench", max_retries=0)
    async_client.messages._post = async_post
    loop = asyncio.new_event_loop()
    options = {"model": bench_anthropic.MODEL, "max_tokens": 1024, "system": bench_anthropic.SYSTEM,
               "messages": bench_anthropic.MESSAGES, "stream": True}

    def sync_call(n: int) -> Any:
        return lambda: list(sync_client.messages.create(metadata={"user_id": str(n)}, **options))

    def async_call(n: int) -> Any:
        async def read() -> list[Any]:
            return [e async for e in await async_client.messages.create(metadata={"user_id": str(n)}, **options)]

        return lambda: loop.run_until_complete(read())

    return {**{f"events/{n}": sync_call(n) for n in LENGTHS}, **{f"async events/{n}": async_call(n) for n in LENGTHS}}


def count(setup: str, streams: int, layout: int, isolated: bool = False, anthropic: bool = False) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", setup, "--streams", str(streams)]
    report, totals = _harness.callgrind(
        command + (["--isolated"] if isolated else []) + (["--anthropic"] if anthropic else []),
        _harness.COUNT_LOOPS, env={"TG_BENCH_LAYOUT": "x" * _PADDING[layout % len(_PADDING)]} if layout else None)
    if len(totals) != len(report["loops"]):
        raise RuntimeError(f"{setup}: {len(totals)} dumps for {len(report['loops'])} loops")
    per_call = {name: totals[i, 1] / streams for i, name in enumerate(report["loops"], 1)}
    return {"per_call": per_call, "chunks": report["chunks"], "bare_chunks": report["bare_chunks"],
            "versions": report["versions"]}


def _row(setup: str, way: str, small: list[float], large: list[float]) -> str:
    per_chunk = [(b - a) / 450 for a, b in zip(small, large)]
    return (f"  {setup:<22}{way:<15}{statistics.median(small):>12,.0f}{statistics.median(large):>12,.0f}"
            f"{statistics.median(per_chunk):>11,.0f}   {min(per_chunk):,.0f} - {max(per_chunk):,.0f}")


def _isolated_report(streams: int, layouts: int, started: str, anthropic: bool = False) -> list[str]:
    """``--isolated``: chunk models built beforehand; each setup's traced loops against the untraced
    ones counted first in the same process (``anthropic``: traceglass's Anthropic instrumentor)."""
    lines = [f"Isolated{' Anthropic' if anthropic else ''} (chunk models built beforehand: the SDK's HTTP, SSE "
             f"decoding and model building left out; untraced and traced counted in one process; callgrind, "
             f"{started}; {streams} streams per loop; {layouts} process layouts per setup)", "",
             f"  {'setup':<22}{'way':<15}{'+ at 50':>12}{'+ at 500':>12}{'per chunk':>11}   range over layouts"]
    versions = None
    for setup in ("traceglass",) if anthropic else ISOLATED_SETUPS:
        counted = [count(setup, streams, layout, True, anthropic) for layout in range(layouts)]
        versions = counted[0]["versions"]
        for way in dict.fromkeys(name[7:].rpartition("/")[0] for name in counted[0]["per_call"]
                                 if name.startswith("traced:")):
            small = [c["per_call"][f"traced:{way}/50"] - c["per_call"][f"bare:{way}/50"] for c in counted]
            large = [c["per_call"][f"traced:{way}/500"] - c["per_call"][f"bare:{way}/500"] for c in counted]
            lines.append(_row(setup, way, small, large))
        floor = [(c["per_call"]["floor:read/500"] - c["per_call"]["floor:read/50"]) / 450 for c in counted
                 if "floor:read/50" in c["per_call"]]
        if floor and setup == "traceglass":
            lines.append(f"  {'reading floor':<37}{'':>24}{statistics.median(floor):>11,.0f}   (untraced: only "
                         "reading each chunk's choices, their fields and their deltas' fields off the models)")
        if counted[0]["chunks"] != counted[0]["bare_chunks"]:
            lines.append(f"  ({setup}: the caller saw {json.dumps(counted[0]['chunks'])} chunks, untraced "
                         f"{json.dumps(counted[0]['bare_chunks'])})")
    return lines + ["  versions: " + json.dumps(versions), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=3, help="streams per counted loop")
    parser.add_argument("--layouts", type=int, default=5, help="processes per setup, environments of other sizes")
    parser.add_argument("--isolated", action="store_true", help="chunk models built beforehand (see _prebuilt)")
    parser.add_argument("--anthropic", action="store_true", help="with --isolated: Anthropic streams instead")
    parser.add_argument("--worker")
    parser.add_argument("--out", default=str(HERE / "results" / "stream_chunks.txt"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.streams, args.isolated, args.anthropic)))
        return
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.isolated:
        lines = _isolated_report(args.streams, args.layouts, started, args.anthropic)
    else:
        lines = _full_report(args.streams, args.layouts, started)
    text = "\n".join(lines)
    print(text)
    with open(args.out, "a") as out:
        out.write(text + "\n")


def _full_report(streams: int, layouts: int, started: str) -> list[str]:
    counted = {setup: [count(setup, streams, layout) for layout in range(layouts)] for setup in SETUPS}
    nones = counted["none"]
    lines = [f"Instructions per streamed chunk a tracer adds (callgrind, {started}; {streams} streams per "
             f"loop; {layouts} process layouts per setup; chunks the caller saw per stream: "
             + json.dumps(nones[0]["chunks"]) + ")", "",
             f"  {'setup':<22}{'way':<15}{'+ at 50':>12}{'+ at 500':>12}{'per chunk':>11}   range over layouts"]
    for setup in SETUPS[1:]:
        for way in WAYS:
            small, large = [], []
            for mine, none in zip(counted[setup], nones):
                if mine["chunks"] != none["chunks"]:
                    raise SystemExit(f"{setup}: the caller saw other chunks than untraced: {mine['chunks']}")
                small.append(mine["per_call"][f"{way}/50"] - none["per_call"][f"{way}/50"])
                large.append(mine["per_call"][f"{way}/500"] - none["per_call"][f"{way}/500"])
            lines.append(_row(setup, way, small, large))
    none = nones[0]["per_call"]
    return lines + ["", "  untraced, per call: " + ", ".join(f"{k} {v:,.0f}" for k, v in none.items()),
                    "  versions: " + json.dumps(nones[0]["versions"]), ""]


if __name__ == "__main__":
    os.environ.setdefault("TRACEGLASS_CAPTURE_CONTENT", "true")
    main()
