"""An OpenAI Agents SDK app with no tracing code: a triage agent hands off to a weather agent
that calls a tool. Run it under ``opentelemetry-instrument`` (or call ``traceglass.configure()``
first) and the ``traceglass_openai_agents`` entry point turns the SDK's own trace into spans:

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OTEL_TRACES_EXPORTER=traceglass_sqlite \\
    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai opentelemetry-instrument python examples/openai_agents_app.py

``OPENAI_BASE_URL`` points it at any OpenAI-compatible server that speaks the Responses API.
"""

from __future__ import annotations

import os

import openai
from agents import Agent, OpenAIResponsesModel, Runner, function_tool


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def main() -> None:
    client = openai.AsyncOpenAI(base_url=os.environ.get("OPENAI_BASE_URL"),
                                api_key=os.environ.get("OPENAI_API_KEY") or "traceglass-demo", max_retries=0)
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=client)
    weather = Agent(name="weather", instructions="Answer with the weather.", tools=[get_weather], model=model)
    triage = Agent(name="triage", instructions="Route the question.", handoffs=[weather], model=model)
    result = Runner.run_sync(triage, "What is the weather in Paris?")
    print(f"agents: {result.final_output}")


if __name__ == "__main__":
    main()
