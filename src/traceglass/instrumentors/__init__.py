"""Auto-instrumentors, by the names ``configure(instrument=[...])`` accepts.

Each is an OpenTelemetry ``BaseInstrumentor``; the library it patches is imported only when it
is turned on, so ``import traceglass`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InstrumentorSpec:
    name: str
    target: str  # "module:Class"
    library: str | None  # import name of the library it patches (None: the standard library)

    def library_installed(self) -> bool:
        if self.library is None:
            return True
        try:
            return importlib.util.find_spec(self.library) is not None
        except ModuleNotFoundError:  # a dotted name ("llama_index.core") whose parent package is not installed
            return False

    def load(self) -> Any:
        module_name, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module_name), attr)


INSTRUMENTORS: dict[str, InstrumentorSpec] = {
    spec.name: spec
    for spec in (
        InstrumentorSpec("openai", "traceglass.instrumentors.openai:OpenAIInstrumentor", "openai"),
        InstrumentorSpec("anthropic", "traceglass.instrumentors.anthropic:AnthropicInstrumentor", "anthropic"),
        InstrumentorSpec("langchain", "traceglass.instrumentors.langchain:LangChainInstrumentor", "langchain_core"),
        InstrumentorSpec("litellm", "traceglass.instrumentors.litellm:LiteLLMInstrumentor", "litellm"),
        InstrumentorSpec("openai_agents", "traceglass.instrumentors.openai_agents:OpenAIAgentsInstrumentor", "agents"),
        InstrumentorSpec("llamaindex", "traceglass.instrumentors.llamaindex:LlamaIndexInstrumentor", "llama_index.core"),
        InstrumentorSpec("threading", "traceglass.instrumentors.threading:ThreadingInstrumentor", None),
    )
}


def available() -> list[str]:
    """Names of the instrumentors whose module ships and whose library is installed."""
    out = []
    for name, spec in INSTRUMENTORS.items():
        module_name = spec.target.partition(":")[0]
        if spec.library_installed() and importlib.util.find_spec(module_name) is not None:
            out.append(name)
    return out
