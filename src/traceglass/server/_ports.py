"""Whether a host and port can be served, said in one line (used by ``traceglass ui``/``demo``/``demo-server``)."""

from __future__ import annotations

import errno
import socket


def bind_error(host: str, port: int, exc: OSError) -> str:
    """One line saying why ``host:port`` cannot be served."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use; pick another with --port"
    if exc.errno == errno.EACCES:
        return f"no permission to use port {port} on {host}; pick another with --port"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve on host {host!r} (port {port}): {exc.strerror or exc}"
    return f"cannot serve on {host} port {port}: {exc.strerror or exc}"


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now, in one line, or None when it can.

    Binds the way uvicorn will (SO_REUSEADDR, IPv6 for a host with ':') and lets go at once, so a
    busy port is reported before any work, in one line, instead of as the server's traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:  # socket.gaierror (an unknown host) included
        return bind_error(host, port, exc)
    return None
