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
SPAN_ONLY). Each with a TracerProvider whose SimpleSpanProcessor drops the spans
(``_harness.tracer_provider``).

Counted under callgrind (``--toggle-collect``, one loop per dump, as bench_openai.py counts), so the
machine's load does not enter. The SDK spends ~800,000 instructions on a chunk itself, and where
its objects land in memory moves that by a few thousand from one process to the next (the same
code counted in two processes has differed by ~6,000 a chunk): each setup is counted in
``--layouts`` processes whose environments differ in size (the first as it is, the others with a
variable of 7, 517, 1,331, ... characters more), and the table gives the median per chunk and the
range. Even so, two runs of this script have differed by more than the range of either: read the
per-chunk figures to a few thousand instructions.

    python benchmarks/bench_stream_chunks.py [--streams 3] [--layouts 5]

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
import bench_openai  # noqa: E402

SETUPS = ("none", "traceglass", "openai-v2")
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


def _calls() -> dict[str, Any]:
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

    return {f"{way}/{n}": stream(n, way == "asked") for way in WAYS for n in LENGTHS}


def worker(setup: str, streams: int) -> dict[str, Any]:
    provider, _ = _harness.tracer_provider()
    if setup != "none":
        bench_openai.instrumentor(setup, provider)()
    calls = _calls()
    _harness.client_requests().tg_start()
    loops = []
    for name, call in calls.items():
        for _ in range(2):  # warm
            call()
        _harness.counted_loop(call, streams)
        loops.append(name)
    return {"loops": loops, "chunks": {name: len(call()) for name, call in calls.items()},
            "versions": _harness.versions("openai", "opentelemetry-sdk", "opentelemetry-instrumentation-openai-v2")}


def count(setup: str, streams: int, layout: int) -> dict[str, Any]:
    report, totals = _harness.callgrind(
        [sys.executable, str(Path(__file__).resolve()), "--worker", setup, "--streams", str(streams)],
        _harness.COUNT_LOOPS, env={"TG_BENCH_LAYOUT": "x" * _PADDING[layout % len(_PADDING)]} if layout else None)
    if len(totals) != len(report["loops"]):
        raise RuntimeError(f"{setup}: {len(totals)} dumps for {len(report['loops'])} loops")
    per_call = {name: totals[i, 1] / streams for i, name in enumerate(report["loops"], 1)}
    return {"per_call": per_call, "chunks": report["chunks"], "versions": report["versions"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=3, help="streams per counted loop")
    parser.add_argument("--layouts", type=int, default=5, help="processes per setup, environments of other sizes")
    parser.add_argument("--worker")
    parser.add_argument("--out", default=str(HERE / "results" / "stream_chunks.txt"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.streams)))
        return
    counted = {setup: [count(setup, args.streams, layout) for layout in range(args.layouts)] for setup in SETUPS}
    nones = counted["none"]
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Instructions per streamed chunk a tracer adds (callgrind, {started}; {args.streams} streams per "
             f"loop; {args.layouts} process layouts per setup; chunks the caller saw per stream: "
             + json.dumps(nones[0]["chunks"]) + ")", "",
             f"  {'setup':<12}{'way':<9}{'+ at 50':>12}{'+ at 500':>12}{'per chunk':>11}   range over layouts"]
    for setup in SETUPS[1:]:
        for way in WAYS:
            small, large, per_chunk = [], [], []
            for mine, none in zip(counted[setup], nones):
                if mine["chunks"] != none["chunks"]:
                    raise SystemExit(f"{setup}: the caller saw other chunks than untraced: {mine['chunks']}")
                small.append(mine["per_call"][f"{way}/50"] - none["per_call"][f"{way}/50"])
                large.append(mine["per_call"][f"{way}/500"] - none["per_call"][f"{way}/500"])
                per_chunk.append((large[-1] - small[-1]) / 450)
            lines.append(f"  {setup:<12}{way:<9}{statistics.median(small):>12,.0f}{statistics.median(large):>12,.0f}"
                         f"{statistics.median(per_chunk):>11,.0f}   {min(per_chunk):,.0f} - {max(per_chunk):,.0f}")
    none = nones[0]["per_call"]
    lines += ["", "  untraced, per call: " + ", ".join(f"{k} {v:,.0f}" for k, v in none.items()),
              "  versions: " + json.dumps(nones[0]["versions"]), ""]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "a") as out:
        out.write(text + "\n")


if __name__ == "__main__":
    os.environ.setdefault("TRACEGLASS_CAPTURE_CONTENT", "true")
    main()
