"""Session, user, tags and metadata carried through contextvars onto every span started inside."""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Mapping

from traceglass import semconv


@dataclass(frozen=True)
class SessionScope:
    """What ``traceglass.session(...)`` put in the context, merged with any outer session."""

    session_id: str | None = None
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def nested(
        cls,
        outer: "SessionScope | None",
        session_id: str | None,
        user_id: str | None,
        tags: tuple[str, ...],
        metadata: Mapping[str, Any] | None,
    ) -> "SessionScope":
        """An inner scope: its own values win, tags and metadata add to the outer ones."""
        if outer is not None:
            session_id = session_id if session_id is not None else outer.session_id
            user_id = user_id if user_id is not None else outer.user_id
            tags = tuple(dict.fromkeys((*outer.tags, *tags)))
            metadata = {**outer.metadata, **(metadata or {})}
        metadata = dict(metadata or {})
        attributes: dict[str, Any] = {}
        if session_id is not None:
            attributes[semconv.SESSION_ID] = str(session_id)
        if user_id is not None:
            attributes[semconv.USER_ID] = str(user_id)
        if tags:
            attributes[semconv.TAGS] = [str(t) for t in tags]
        for key, value in metadata.items():
            attributes[semconv.METADATA_PREFIX + str(key)] = _attribute_value(value)
        return cls(session_id, user_id, tuple(tags), metadata, attributes)


def _attribute_value(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


_session: ContextVar[SessionScope | None] = ContextVar("traceglass_session", default=None)


def current_session() -> SessionScope | None:
    """The session scope in force in this context, if any."""
    return _session.get()


def set_session(scope: SessionScope | None) -> Any:
    return _session.set(scope)


def reset_session(token: Any) -> None:
    _session.reset(token)
