"""The runtime: the settings, the telemetry handler and the pipeline in force, as one object.

``configure()`` builds a new :class:`Runtime` and installs it; ``traceglass.testing.capture()``
installs a private one for its block and puts the previous one back. Whatever traceglass consults
while the application runs comes from the installed runtime: the settings snapshot (read from the
environment once, by :class:`~traceglass._config.Settings`), the handler bound to the providers
(it holds that snapshot: nothing reads settings per span), and what ``configure()`` attached to
the OpenTelemetry SDK (``pipeline``, for ``flush()``/``shutdown()`` and the next ``configure()``).
Until something is installed, a default runtime is built on first use: settings from the
environment, a handler on the global providers, no pipeline.

What stays module-global, and why (docs/architecture.md lists the same):

* ``_installed`` here: the runtime in force (one per process, swapped whole).
* ``_setup._LOCK``: serialises ``configure()``/``shutdown()``, which must exist before any runtime.
* The pipeline object itself is shared by every runtime built on it: a tracer provider cannot drop
  a span processor, so the fan-out ``configure()`` attached, the global meter provider it set (which
  OpenTelemetry lets a process set once) and the instrumentors' patches outlive any one runtime.
* ``_config._warned_env``: a bad environment value is warned about once per process, however many
  times settings are built (``configure()``, the SQLite exporter's retention, a default runtime).
* ``_guard``'s reported-once set: an internal fault is logged once per process, whatever the runtime.
* ContextVars (the current invocation, session, the OpenAI in-call flag): per-context by design.
* Patches and their switches: ``instrumentors.openai._wrappers.STATE`` (global instrumentation on or
  off: the patched methods are process-wide), ``instrumentors.langchain._activate`` (wrapped once),
  LangChain's default callback handler (it looks the runtime's handler up per run).
* Memos of pure functions, which never need resetting: the OpenAI provider-by-class,
  endpoint-by-URL and fields-in-``__dict__``-by-class caches (``instrumentors.openai._extract``),
  the handler's content-table cache.
* ``processors.cost``'s counted-once memory, shared by every live cost processor of the process
  (``opentelemetry-instrument``'s and ``configure()``'s see the same span: it is counted once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from traceglass._config import Settings
from traceglass._handler._telemetry import TelemetryHandler


@dataclass(frozen=True, eq=False)
class Runtime:
    """The settings snapshot, the handler that applies it, and ``configure()``'s pipeline (if any).

    ``reported``: the once-only warnings already given under this runtime (``first_time``);
    ``configure()`` carries it over, ``capture()`` starts a fresh one. ``logger_provider``: where
    ``traceglass.score()`` emits its log records (None: the global one).
    """

    settings: Settings
    handler: TelemetryHandler
    pipeline: Any = None  # _setup.Pipeline: what configure() attached to the SDK; None: not configured
    reported: set[str] = field(default_factory=set, repr=False)
    logger_provider: Any = None

    @classmethod
    def build(cls, settings: Settings | None = None, tracer_provider: Any = None, meter_provider: Any = None,
              *, pipeline: Any = None, reported: set[str] | None = None, logger_provider: Any = None) -> Runtime:
        """A runtime whose handler is bound to these providers (None: the global ones) and ``settings``
        (None: read from the environment)."""
        settings = Settings.from_env() if settings is None else settings
        handler = TelemetryHandler(tracer_provider=tracer_provider, meter_provider=meter_provider, settings=settings)
        return cls(settings, handler, pipeline, set() if reported is None else reported, logger_provider)

    def handler_for(self, tracer_provider: Any = None, meter_provider: Any = None) -> TelemetryHandler:
        """This runtime's handler, or for explicit providers a new one applying the same settings."""
        if tracer_provider is None and meter_provider is None:
            return self.handler
        return TelemetryHandler(tracer_provider=tracer_provider, meter_provider=meter_provider,
                                settings=self.settings)

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is asked about under this runtime: for warnings given once."""
        if key in self.reported:
            return False
        self.reported.add(key)
        return True


_installed: Runtime | None = None
_default_lock = threading.Lock()


def current() -> Runtime:
    """The runtime in force: the last one installed, else a default read from the environment."""
    runtime = _installed
    return runtime if runtime is not None else _default()


def peek() -> Runtime | None:
    """The runtime installed, or None (nothing is built: for code that only looks for a pipeline)."""
    return _installed


def _default() -> Runtime:
    global _installed
    with _default_lock:
        if _installed is None:
            _installed = Runtime.build()
        return _installed


def install(runtime: Runtime | None) -> Runtime | None:
    """Put ``runtime`` in force (None: a default is read from the environment on next use).

    Returns the runtime it replaces (None if there was none), to install again later.
    """
    global _installed
    previous, _installed = _installed, runtime
    return previous


@contextmanager
def installed(runtime: Runtime) -> Iterator[Runtime]:
    """``runtime`` in force inside the block; the previous one again after it."""
    previous = install(runtime)
    try:
        yield runtime
    finally:
        install(previous)


def get_handler() -> TelemetryHandler:
    """The handler of the runtime in force (what decorators and un-configured instrumentors use)."""
    runtime = _installed
    return (runtime if runtime is not None else _default()).handler


def handler_for(tracer_provider: Any = None, meter_provider: Any = None) -> TelemetryHandler:
    """A handler for explicit providers with the settings in force, or the runtime's own when none is given."""
    return current().handler_for(tracer_provider, meter_provider)


def settings() -> Settings:
    """The settings in force."""
    return current().settings


__all__ = ["Runtime", "current", "get_handler", "handler_for", "install", "installed", "peek", "settings"]
