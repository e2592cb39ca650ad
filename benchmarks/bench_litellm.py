"""Overhead of LiteLLM instrumentation: bare vs traceglass vs peers, against the in-situ floor.

The workload is ``litellm.completion(model="openai/gpt-4o-mini", ...)`` handed a real ``openai`` client whose
HTTP is an in-process ``httpx.MockTransport`` serving bench_openai.py's precomputed responses (LiteLLM's
OpenAI route takes the client as ``client=``), so LiteLLM's own routing, response conversion, cost and
logging all run, and no socket is opened. Scenarios:

- ``chat``: a non-streaming chat completion (system + user message);
- ``stream``: a 50-chunk streamed chat completion with a usage chunk, fully consumed;
- the in-situ floor (setup ``floor``): the bare call inside a bare ``tracer.start_as_current_span`` carrying,
  from its start, the attributes traceglass's span has for that scenario (learnt once from a traced call):
  what "a bare OTel span with the same attributes" costs around the same work.

The harness is bench_openai.py's (``_harness.py``): every setup in its own process, instrumented and bare
blocks alternating (the instrumentors' replacements of ``litellm.completion`` and its siblings swapped in
and out between blocks), thread CPU time, medians over rounds; ``--instructions`` counts instead under
valgrind's callgrind, ``--both`` does both. LiteLLM's call itself costs millions of instructions and varies
a little from call to call (its logging objects, ids and timestamps), so overheads are differences of large
numbers: read them to a few thousand instructions. Content capture is on for every setup. Spans go through
a ``SimpleSpanProcessor`` into an exporter that drops them.

A peer runs in its own virtualenv with the same ``litellm`` as ours (``--peer NAME=PYTHON``):

    python -m venv /tmp/tg-ll-ollm && /tmp/tg-ll-ollm/bin/pip install litellm==1.110.2 opentelemetry-sdk \\
        opentelemetry-instrumentation-litellm==0.62.4
    python -m venv /tmp/tg-ll-oi && /tmp/tg-ll-oi/bin/pip install litellm==1.110.2 opentelemetry-sdk \\
        openinference-instrumentation-litellm==0.1.51
    python benchmarks/bench_litellm.py --both --peer openllmetry=/tmp/tg-ll-ollm/bin/python \\
        --peer openinference=/tmp/tg-ll-oi/bin/python --out benchmarks/results/litellm.txt
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness
import bench_openai

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # never fetch the price map (workers inherit it)


def scenarios(mode: str = "transport") -> dict[str, Callable[[], Any]]:
    import litellm

    client = bench_openai.make_client(base_url="http://127.0.0.1:9/v1")  # never a real host, whatever LiteLLM does
    messages = bench_openai.MESSAGES
    # looked up on the module at each call, so a patched litellm.completion is the one called
    return {
        "chat": lambda: litellm.completion(model="openai/gpt-4o-mini", messages=messages, temperature=0.3,
                                           client=client),
        "stream": lambda: [c for c in litellm.completion(model="openai/gpt-4o-mini", messages=messages,
                                                         stream=True, stream_options={"include_usage": True},
                                                         client=client)],
    }


def instrumentor(setup: str, provider: Any) -> Callable[[], None]:
    """A setup's instrument call, content capture on."""
    if setup == "traceglass":
        from traceglass.instrumentors.litellm import LiteLLMInstrumentor as Ours

        os.environ["TRACEGLASS_CAPTURE_CONTENT"] = "true"  # the default, made explicit
        inst: Any = Ours()
    elif setup == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
        from opentelemetry.instrumentation.litellm import (
            LiteLLMInstrumentor as Traceloop,
        )

        inst = Traceloop()
    elif setup == "openinference":
        from openinference.instrumentation.litellm import (
            LiteLLMInstrumentor as OpenInference,
        )

        inst = OpenInference()
    else:
        raise SystemExit(f"unknown setup {setup!r}")
    return lambda: inst.instrument(tracer_provider=provider)


def _patched() -> list[Any]:
    """Every instrumentor here replaces module-level functions of litellm (and its Anthropic interface)."""
    import litellm

    found: list[Any] = [litellm]
    try:
        import litellm.anthropic_interface as anthropic_module
        import litellm.anthropic_interface.messages as anthropic_messages

        found += [anthropic_module, anthropic_messages]
    except ImportError:
        pass
    return found


def _ours() -> Any:
    from traceglass.instrumentors.litellm import LiteLLMInstrumentor

    return LiteLLMInstrumentor()


BENCH = _harness.SdkBench(
    title="LiteLLM instrumentation overhead", sdk="litellm", script=Path(__file__).resolve(),
    scenarios=("chat", "stream"), calls={"chat": 30, "stream": 10, "floor": 2000}, counted={"chat": 20, "stream": 6},
    make_calls=scenarios, instrumentor=instrumentor, patched=_patched, ours=_ours, floor_span="chat gpt-4o-mini",
    isolated=False, peers="openllmetry, openinference",
    subtitle=("litellm.completion(model='openai/gpt-4o-mini') over an openai client on httpx.MockTransport",),
)

if __name__ == "__main__":
    _harness.main(BENCH)
