"""Cost per OpenAI Agents SDK run: traceglass against OpenInference, OpenLLMetry and OpenLIT.

Workload: an ``Agent`` with one function tool, run by ``Runner.run`` (awaited on one event loop per
process): two Responses API model calls (a function call, then the answer) and the tool between
them. The model calls go through the real ``openai`` SDK (``AsyncOpenAI`` with
``OpenAIResponsesModel``) over an in-process ``httpx.MockTransport`` serving the API's JSON, so no
socket is used and what is measured is the SDK plus the instrumentation. The SDK's default
exporter to OpenAI's backend is removed in every setup (``set_trace_processors([])``).

Setups: traceglass's Agents SDK processor (content on, content off) and with our OpenAI
instrumentor on as well (its client spans stand in for the SDK's model-call spans: what
``configure()`` turns on); the peers' Agents SDK instrumentors, each in its own virtualenv with the
same openai-agents and openai as ours:

    python -m venv /tmp/ag-oi && /tmp/ag-oi/bin/pip install openai-agents==0.24.0 openai==3.57.0 \\
        opentelemetry-sdk openinference-instrumentation-openai-agents
    python -m venv /tmp/ag-ollm && /tmp/ag-ollm/bin/pip install openai-agents==0.24.0 openai==3.57.0 \\
        opentelemetry-sdk opentelemetry-instrumentation-openai-agents

OpenLIT is not measured: its Agents SDK instrumentor needs openai<3, which openai-agents 0.24 does not
run with (see PEERS).

Run: python benchmarks/bench_openai_agents.py [--rounds 7] [--runs 200] [--count-runs 10]
     [--peer openinference=/path/to/python] [--no-instructions]
Writes benchmarks/results/openai_agents.txt (see _peer_harness.py for how each figure is made).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer_harness import Bench, Peer, main

OURS = ("traceglass", "traceglass, content off", "traceglass + openai instrumentor")
PEERS = {
    "openinference": Peer("openinference-instrumentation-openai-agents", "/tmp/ag-oi/bin/python",
                          ("openinference.instrumentation.openai_agents", "OpenAIAgentsInstrumentor")),
    "openllmetry": Peer("opentelemetry-instrumentation-openai-agents", "/tmp/ag-ollm/bin/python",
                        ("opentelemetry.instrumentation.openai_agents", "OpenAIAgentsInstrumentor")),
    # would not install beside openai-agents 0.24 (pass --peer openlit=PYTHON to measure it anyway)
    "openlit": Peer("openlit", note="openlit 1.45 (the release with an Agents SDK instrumentor) requires openai<3 and "
                    "openai-agents 0.24 requires openai>=3: pip cannot install them together (its resolver falls "
                    "back to openlit 1.26, which has no Agents SDK instrumentation)"),
}


def _response(output: list[dict[str, Any]], n: int) -> bytes:
    return json.dumps({
        "id": f"resp_{n}", "object": "response", "created_at": 1763900000, "status": "completed",
        "model": "gpt-4o-2024-08-06", "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [], "error": None, "incomplete_details": None, "instructions": "Answer with the weather.",
        "metadata": {}, "temperature": 1.0, "top_p": 1.0, "service_tier": "default",
        "usage": {"input_tokens": 60, "output_tokens": 12, "total_tokens": 72,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }).encode()


CALL = _response([{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                   "arguments": '{"city": "Paris"}', "status": "completed"}], 1)
ANSWER = _response([{"type": "message", "id": "msg_2", "status": "completed", "role": "assistant",
                     "content": [{"type": "output_text", "text": "Sunny in Paris.", "annotations": []}]}], 2)


def make_run() -> Callable[[], None]:
    import asyncio

    import agents
    import openai
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool
    from openai import _base_client

    agents.set_trace_processors([])  # never OpenAI's tracing backend
    httpx = getattr(_base_client, "httpx2", None) or _base_client.httpx

    def handler(request: Any) -> Any:
        answered = b'"function_call_output"' in request.content
        return httpx.Response(200, headers={"content-type": "application/json"}, content=ANSWER if answered else CALL)

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    loop = asyncio.new_event_loop()
    client = openai.AsyncOpenAI(api_key="sk-bench", max_retries=0,
                                http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    agent = Agent(name="weather", instructions="Answer with the weather.", tools=[get_weather],
                  model=OpenAIResponsesModel(model="gpt-4o", openai_client=client))

    def run() -> None:
        result = loop.run_until_complete(Runner.run(agent, "What is the weather in Paris?"))
        assert result.final_output == "Sunny in Paris."

    return run


def instrument(setup: str, tracer_provider: Any) -> None:
    if setup.startswith("traceglass"):
        from traceglass.instrumentors.openai import OpenAIInstrumentor
        from traceglass.instrumentors.openai_agents import OpenAIAgentsInstrumentor

        OpenAIAgentsInstrumentor().instrument()
        if setup == "traceglass + openai instrumentor":
            OpenAIInstrumentor().instrument()
    elif setup == "openlit":
        from opentelemetry import trace

        trace.set_tracer_provider(tracer_provider)  # OpenLIT's instrumentor takes the global provider
        from openlit._config import OpenlitConfig
        from openlit.instrumentation.openai_agents import (
            OpenAIAgentsInstrumentor as OpenLIT,
        )

        OpenlitConfig()  # its defaults, as openlit.init() would set them (init() also installs exporters)
        OpenLIT().instrument(environment="bench", application_name="bench", pricing_info={},
                             capture_message_content=True, disable_metrics=True, tracer_provider=tracer_provider)
    else:
        raise SystemExit(f"unknown setup {setup!r}")


BENCH = Bench(
    title="OpenAI Agents SDK run cost: one agent, one tool, two Responses API calls (in-process transport)",
    out_name="openai_agents.txt", make_run=make_run, instrument=instrument, dists=("openai-agents", "openai"), ours=OURS,
    peers=PEERS,
    notes=(("spans/run: traceglass shows workflow, agent, 2 model calls, tool (the SDK's task/turn spans are "
            "hidden); peers map the SDK's spans their own way"),),
)

if __name__ == "__main__":
    main(BENCH, __file__)
