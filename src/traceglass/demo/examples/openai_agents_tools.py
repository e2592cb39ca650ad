"""An OpenAI Agents SDK app traced by traceglass: a handoff, a tool loop and a streamed run.

What it shows:
- `configure()` turns on the Agents SDK instrumentor: the SDK's own trace of each run becomes
  spans (`invoke_workflow` > `invoke_agent triage` / `invoke_agent weather` > `chat` /
  `handoff weather` / `execute_tool get_weather`), with the tool call's id from the model's output;
- each model call is one span counted once: the OpenAI instrumentor's client span stands in for
  the SDK's own, under the agent that made it;
- a streamed run (`Runner.run_streamed`) gives the same tree; session and user on every span.

Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set (the SDK then also
sends its traces to OpenAI's tracing backend, as it does by default).
Needs: pip install 'traceglass[openai-agents]'   Run: python examples/openai_agents_tools.py
"""

from __future__ import annotations

import asyncio

import agents
from agents import Agent, OpenAIResponsesModel, Runner, function_tool

import traceglass
from traceglass.demo import openai_endpoint


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return {"paris": "sunny, 21°C", "oslo": "snow, -3°C"}.get(city.lower(), f"mild and dry in {city}")


def build(model: OpenAIResponsesModel) -> Agent:
    weather = Agent(name="weather", instructions="Answer with the weather, in one sentence.", tools=[get_weather],
                    model=model, handoff_description="Knows the weather anywhere")
    return Agent(name="triage", instructions="Hand weather questions to the weather agent.", handoffs=[weather],
                 model=model)


async def run(endpoint) -> None:
    model = OpenAIResponsesModel(model="gpt-4o-mini", openai_client=endpoint.async_client(max_retries=0))
    triage = build(model)
    with traceglass.session("agents-demo", user_id="demo-user"):
        result = await Runner.run(triage, "What is the weather in Paris?")
        print(f"Run ({result.last_agent.name}): {result.final_output}")
        streamed = Runner.run_streamed(triage, "And in Oslo?")
        deltas = 0
        async for event in streamed.stream_events():
            deltas += event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
        print(f"Streamed ({deltas} text deltas): {streamed.final_output}")


def main() -> None:
    with openai_endpoint() as endpoint:
        if endpoint.base_url is not None:
            # Not OpenAI's API: the SDK's default exporter to OpenAI's tracing backend would send this
            # key there. Drop it before configure() adds traceglass's processor.
            agents.set_trace_processors([])
        traceglass.configure(service_name="openai-agents-tools")
        asyncio.run(run(endpoint))
    traceglass.flush()


if __name__ == "__main__":
    main()
