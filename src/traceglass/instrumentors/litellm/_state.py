"""The instrumentation's process-wide state, in a module that does not import ``litellm``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from traceglass._handler import TelemetryHandler
from traceglass._runtime import handler_for


@dataclass
class Options:
    """How calls are traced: the providers, and whether streams are asked for their usage."""

    tracer_provider: Any = None
    meter_provider: Any = None
    capture_usage_in_stream: bool = True
    handler: TelemetryHandler | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.tracer_provider is not None or self.meter_provider is not None:
            self.handler = handler_for(self.tracer_provider, self.meter_provider)


class _State:
    """Process-wide: the options of global instrumentation (None: off)."""

    options: Options | None = None


STATE = _State()
