"""The evaluation schedules a server runs: ``traceglass ui --evals FILE`` (YAML, or TOML by suffix).

    judge:                          # optional: the OpenAI-compatible server LLM judges ask
      model: gpt-4o-mini
      base_url: http://127.0.0.1:8000/v1   # default: the openai SDK's (OPENAI_BASE_URL)
      api_key_env: OPENAI_API_KEY          # the variable holding the key (default OPENAI_API_KEY)
    schedules:
      - name: nightly-quality
        scorers: [relevance, faithfulness]
        cron: "0 2 * * *"
        project: support-bot        # any TraceBridge.to_dataset filter (its name=: span_name)
      - scorers: ["max_latency:2000"]
        every: 15m

A mistake raises :class:`ValueError` naming the schedule and the field, before anything runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traceglass.evals import _stores
from traceglass.evals._schedule import EvalSchedule

# "name" names the schedule: the answer span's name filter is spelled span_name here.
_FILTERS = {"span_type", "span_name", "project", "model", "since", "until", "session_id", "user_id", "min_score",
            "max_score", "score_name", "status", "limit", "answer"}
_FIELDS = {"name", "scorers", "every", "cron", "concurrency"} | _FILTERS


def load_schedules(path: str | os.PathLike[str], *, store: _stores.StoreLike = None) -> list[EvalSchedule]:
    """The schedules of the file at ``path`` (not started), evaluating ``store``'s traces."""
    data = _read(Path(path))
    if not isinstance(data, dict) or not isinstance(data.get("schedules"), list) or not data["schedules"]:
        raise ValueError(f"{path}: needs a 'schedules' list with at least one schedule")
    unknown = sorted(set(data) - {"schedules", "judge"})
    if unknown:
        raise ValueError(f"{path}: unknown top-level key(s) {', '.join(unknown)} (known: judge, schedules)")
    judge, model = _judge(path, data.get("judge"))
    schedules = []
    for index, entry in enumerate(data["schedules"], 1):
        where = f"{path}: schedule {index}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping, got {type(entry).__name__}")
        where = f"{path}: schedule {entry.get('name', index)!s}"
        extra = sorted(set(entry) - _FIELDS)
        if extra:
            raise ValueError(f"{where}: unknown field(s) {', '.join(extra)}")
        scorers = entry.get("scorers")
        if isinstance(scorers, str):
            scorers = [scorers]
        if not isinstance(scorers, list) or not scorers or not all(isinstance(s, str) for s in scorers):
            raise ValueError(f"{where}: scorers must be a list of scorer specs such as relevance, max_latency:2000")
        filters = {key: value for key, value in entry.items() if key in _FILTERS}
        if "span_name" in filters:
            filters["name"] = filters.pop("span_name")
        try:
            schedule = EvalSchedule(scorers, every=entry.get("every"), cron=entry.get("cron"), store=store,
                                    concurrency=entry.get("concurrency", 4), judge=judge, model=model, **filters)
            # The filters are checked now (a bad time or status), not at the first run.
            from traceglass.store import TraceFilter  # noqa: PLC0415 - only to check

            TraceFilter(project=filters.get("project"), status=filters.get("status"), since=filters.get("since"),
                        until=filters.get("until"), min_score=filters.get("min_score"),
                        max_score=filters.get("max_score"))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        schedule.name = str(entry.get("name", f"schedule-{index}"))
        schedules.append(schedule)
    return schedules


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".toml":
        import tomllib  # noqa: PLC0415 - Python 3.11+

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
    try:
        import yaml  # noqa: PLC0415 - the yaml extra
    except ImportError:
        raise ValueError(f"{path}: reading YAML needs pyyaml (pip install 'traceglass[yaml]'), "
                         "or write the file as TOML") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None


def _judge(path: Any, config: Any) -> tuple[Any, str | None]:
    if config is None:
        return None, None
    if not isinstance(config, dict) or set(config) - {"model", "base_url", "api_key_env"}:
        raise ValueError(f"{path}: judge takes model, base_url and api_key_env")
    import openai  # noqa: PLC0415 - only when the file names a judge

    key_env = config.get("api_key_env", "OPENAI_API_KEY")
    client = openai.OpenAI(base_url=config.get("base_url"), api_key=os.environ.get(key_env) or "unset")
    return client, config.get("model")


__all__ = ["load_schedules"]
