"""``traceglass demo-server``: the bundled OpenAI-compatible server alone, in the foreground.

Point any OpenAI client (an app under ``opentelemetry-instrument``, the examples, your own code) at
it with ``OPENAI_BASE_URL``; it answers every route in :data:`traceglass.demo.fake_openai.ROUTES`
until Ctrl-C.
"""

from __future__ import annotations

import argparse
from typing import Any

from traceglass.cli import EXIT_OK, EXIT_USAGE, CommandError
from traceglass.demo.endpoint import DEMO_API_KEY, DEMO_CHUNK_DELAY
from traceglass.server._command import bind_error, port_number


def add_subcommand(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``demo-server``."""
    parser = subparsers.add_parser(
        "demo-server", help="run the bundled OpenAI-compatible server until Ctrl-C",
        description="Serve the demo's OpenAI-compatible API (chat, streams, tools, embeddings, Responses) on "
                    "HOST:PORT with plausible replies and usage, no API key and no network. Prints the base "
                    "URL to use as OPENAI_BASE_URL; any API key is accepted.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8000, help="port (default: 8000; 0 picks a free one)")
    parser.set_defaults(func=_demo_server)


def _demo_server(args: argparse.Namespace) -> int:
    from traceglass.demo.fake_openai import FakeOpenAIServer

    try:
        server = FakeOpenAIServer(args.host, args.port, chunk_delay=DEMO_CHUNK_DELAY)
    except OSError as exc:
        raise CommandError(bind_error(args.host, args.port, exc), EXIT_USAGE) from None
    # The first line is the URL alone, for scripts; the socket is already listening.
    print(f"traceglass demo server: {server.base_url}", flush=True)
    print(f"  export OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY={DEMO_API_KEY}", flush=True)
    print("  Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("demo server stopped", flush=True)
    return EXIT_OK
