"""Every entry point the distribution declares loads, under a name no peer uses."""

from __future__ import annotations

from importlib.metadata import distribution

import pytest

ENTRY_POINTS = sorted(
    (ep.group, ep.name, ep.value) for ep in distribution("traceglass").entry_points
)


def test_declared_entry_points():
    assert ENTRY_POINTS == [
        ("console_scripts", "traceglass", "traceglass.cli:main"),
        ("opentelemetry_configurator", "traceglass", "traceglass.distro:TraceglassConfigurator"),
        ("opentelemetry_distro", "traceglass", "traceglass.distro:TraceglassDistro"),
        ("opentelemetry_instrumentor", "traceglass_anthropic",
         "traceglass.instrumentors.anthropic:AnthropicInstrumentor"),
        ("opentelemetry_instrumentor", "traceglass_langchain",
         "traceglass.instrumentors.langchain:LangChainInstrumentor"),
        ("opentelemetry_instrumentor", "traceglass_litellm", "traceglass.instrumentors.litellm:LiteLLMInstrumentor"),
        ("opentelemetry_instrumentor", "traceglass_llamaindex",
         "traceglass.instrumentors.llamaindex:LlamaIndexInstrumentor"),
        ("opentelemetry_instrumentor", "traceglass_openai", "traceglass.instrumentors.openai:OpenAIInstrumentor"),
        ("opentelemetry_instrumentor", "traceglass_openai_agents",
         "traceglass.instrumentors.openai_agents:OpenAIAgentsInstrumentor"),
        ("opentelemetry_logs_exporter", "traceglass_sqlite", "traceglass.exporters.sqlite:SQLiteLogExporter"),
        ("opentelemetry_logs_exporter", "traceglass_store", "traceglass.exporters.sqlite:SQLiteLogExporter"),
        ("opentelemetry_traces_exporter", "traceglass_sqlite", "traceglass.exporters.sqlite:SQLiteSpanExporter"),
        ("opentelemetry_traces_exporter", "traceglass_store", "traceglass.exporters.sqlite:SQLiteSpanExporter"),
    ]


@pytest.mark.parametrize(("group", "name", "value"), ENTRY_POINTS)
def test_entry_point_loads(group, name, value):
    (entry_point,) = [ep for ep in distribution("traceglass").entry_points if ep.group == group and ep.name == name]
    assert callable(entry_point.load())


def test_instruments_any_declared():
    requires = distribution("traceglass").requires or []
    instruments_any = sorted(r.split(";")[0].strip() for r in requires if 'extra == "instruments-any"' in r)
    assert instruments_any == ["anthropic>=0.40", "langchain-core>=0.3", "litellm>=1.60", "llama-index-core>=0.12", "openai-agents>=0.2",
                               "openai>=1.40"]


def test_a_dotted_library_whose_parent_is_missing_is_not_installed():
    # configure() asks every instrumentor whether its library is installed; "llama_index.core" without
    # llama_index raised ModuleNotFoundError there, so configure() failed on any machine without LlamaIndex.
    from traceglass.instrumentors import InstrumentorSpec

    spec = InstrumentorSpec("x", "traceglass.instrumentors.openai:OpenAIInstrumentor", "no_such_package_tg.core")
    assert spec.library_installed() is False
    assert InstrumentorSpec("y", "traceglass.instrumentors.openai:OpenAIInstrumentor", "json").library_installed()
