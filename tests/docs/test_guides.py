"""The integration guides under docs/guides: their files parse and agree with what traceglass emits.

No Docker engine runs here, so the guides' stacks are never started. Instead, the test checks what
can go wrong without starting them: a config that does not parse, a compose file that mounts a file
that is not in the repo, a Collector pipeline naming a component that is not defined (or not in the
contrib image), and a dashboard querying a metric name traceglass does not produce.

The Prometheus names are derived from the metrics traceglass really records (name, unit, instrument
type), using the rules of the Collector's prometheus exporter (``prometheus/otlptranslator``,
``UnderscoreEscapingWithSuffixes``). So renaming a metric, or changing a unit, breaks this test.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import pytest
import yaml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Histogram, InMemoryMetricReader, Sum
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import traceglass
from traceglass import semconv
from traceglass._handler import LLMInvocation, TelemetryHandler
from traceglass.processors.cost import CostSpanProcessor
from traceglass.semconv import latest

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "guides"
YAML_FILES = sorted([*GUIDES.rglob("*.yaml"), *GUIDES.rglob("*.yml")])
JSON_FILES = sorted(GUIDES.rglob("*.json"))
MARKDOWN_FILES = sorted(GUIDES.glob("*.md"))
COMPOSE_FILES = sorted(GUIDES.rglob("docker-compose.yaml"))
DASHBOARD = GUIDES / "tempo" / "grafana" / "dashboards" / "traceglass-genai.json"


def _rel(path: Path) -> str:
    return str(path.relative_to(GUIDES))


def _load(path: Path):
    return yaml.safe_load(path.read_text())


def _fenced_blocks(language: str):
    for path in MARKDOWN_FILES:
        for match in re.finditer(rf"```{language}\n(.*?)```", path.read_text(), re.DOTALL):
            yield path, match.group(1)


def test_the_guides_are_all_there():
    assert {p.name for p in MARKDOWN_FILES} == {"jaeger.md", "tempo.md", "collector.md", "multiple-destinations.md",
                                                "grafana-alerts.md", "team-server.md"}
    assert {_rel(p) for p in COMPOSE_FILES} == {
        "jaeger/docker-compose.yaml", "tempo/docker-compose.yaml", "collector/docker-compose.yaml"}


@pytest.mark.parametrize("path", YAML_FILES, ids=_rel)
def test_yaml_file_parses(path):
    assert isinstance(_load(path), dict)


@pytest.mark.parametrize("path", JSON_FILES, ids=_rel)
def test_json_file_parses(path):
    assert isinstance(json.loads(path.read_text()), dict)


def test_yaml_snippets_in_the_guides_parse():
    blocks = list(_fenced_blocks("yaml"))
    assert blocks
    for path, block in blocks:
        assert isinstance(yaml.safe_load(block), dict), (path.name, block)


def test_every_guide_says_what_it_was_checked_against():
    for path in MARKDOWN_FILES:
        header = " ".join(path.read_text().split("\n\n")[1].replace("> ", " ").split())
        assert header.startswith("Written "), path.name
        assert "Checked: the config files parse" in header, path.name
        assert re.search(r"[Nn]ot run against live containers here", header), path.name


# --- Python snippets ---------------------------------------------------------------------------


def test_python_snippets_compile_and_call_configure_with_real_parameters():
    parameters = set(inspect.signature(traceglass.configure).parameters)
    calls = 0
    for path, block in _fenced_blocks("python"):
        tree = ast.parse(block, filename=path.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "traceglass.configure":
                calls += 1
                assert {kw.arg for kw in node.keywords} <= parameters, (path.name, ast.unparse(node))
    assert calls >= 2


# --- docker compose ----------------------------------------------------------------------------

SERVICE_KEYS = {"image", "command", "volumes", "ports", "environment", "depends_on", "extra_hosts"}
_DEFAULTED_VARIABLE = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        parts = _DEFAULTED_VARIABLE.sub(lambda m: m.group(2), volume).split(":")
        assert parts[0].startswith("./"), f"only bind mounts of files in the repo, got {volume!r}"
        assert len(parts) == 2 or (len(parts) == 3 and parts[2] == "ro"), volume
        assert "$" not in parts[0], f"a variable without a default: {volume!r}"
        mounts.append((parts[0], parts[1]))
    return mounts


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=_rel)
def test_compose_file_only_publishes_ports_and_mounts_files_from_the_repo(path):
    compose = _load(path)
    assert set(compose) == {"services"}  # no named volumes, networks or secrets to set up
    for name, service in compose["services"].items():
        assert set(service) <= SERVICE_KEYS, (name, set(service) - SERVICE_KEYS)
        image, _, tag = service["image"].rpartition(":")
        assert image and tag != "latest" and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), service["image"]
        for port in service.get("ports", []):
            host, _, container = str(port).partition(":")
            assert host.isdigit() and host == container, f"{name}: publish ports 1:1, got {port!r}"
        for source, _target in _bind_mounts(service):
            assert (path.parent / source).exists(), f"{name} mounts {source}, which is not in {path.parent}"
        for dependency in service.get("depends_on", []):
            assert dependency in compose["services"], (name, dependency)
        command = " ".join(service.get("command", []))
        for config in re.findall(r"-?-config(?:\.file)?=(\S+)", command):
            assert config in {target for _, target in _bind_mounts(service)}, f"{name}: {config} is not mounted"


def test_the_collector_compose_can_mount_either_collector_config():
    volume = _load(GUIDES / "collector" / "docker-compose.yaml")["services"]["otel-collector"]["volumes"][0]
    assert volume.startswith("./${OTELCOL_CONFIG:-otel-collector.yaml}:")
    assert (GUIDES / "collector" / "otel-collector-fanout.yaml").exists()


def test_the_tempo_stack_is_wired_together():
    base = GUIDES / "tempo"
    services = _load(base / "docker-compose.yaml")["services"]
    collector = _load(base / "otel-collector.yaml")
    tempo = _load(base / "tempo.yaml")
    # Tempo receives OTLP from the Collector on all interfaces, and stores blocks locally.
    for protocol, port in (("grpc", 4317), ("http", 4318)):
        assert tempo["distributor"]["receivers"]["otlp"]["protocols"][protocol]["endpoint"] == f"0.0.0.0:{port}"
    assert tempo["storage"]["trace"]["backend"] == "local"
    assert collector["exporters"]["otlp/tempo"]["endpoint"] == "tempo:4317"
    # Prometheus scrapes the Collector's prometheus exporter, keeping the job label it derives.
    (scrape,) = _load(base / "prometheus.yml")["scrape_configs"]
    assert scrape["honor_labels"] is True
    assert scrape["static_configs"] == [{"targets": ["otel-collector:8889"]}]
    assert collector["exporters"]["prometheus"]["endpoint"] == "0.0.0.0:8889"
    assert "/etc/prometheus/prometheus.yml" in {t for _, t in _bind_mounts(services["prometheus"])}
    # Grafana's data sources point at the services, and the dashboard uses their uids.
    sources = {s["uid"]: s for s in _load(base / "grafana/provisioning/datasources/datasources.yaml")["datasources"]}
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["tempo"]["url"] == f"http://tempo:{tempo['server']['http_listen_port']}"
    (provider,) = _load(base / "grafana/provisioning/dashboards/dashboards.yaml")["providers"]
    grafana_mounts = {t: s for s, t in _bind_mounts(services["grafana"])}
    assert grafana_mounts[provider["options"]["path"]] == "./grafana/dashboards"
    used_uids = {t["datasource"]["uid"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]}
    assert used_uids == set(sources)


# --- Collector configs -------------------------------------------------------------------------

# Component type names in otelcol-contrib (open-telemetry/opentelemetry-collector-releases,
# distributions/otelcol-contrib/manifest.yaml, v0.136), the subset a guide may reasonably use.
CONTRIB = {
    "receivers": {"otlp", "nop", "prometheus", "hostmetrics", "filelog", "jaeger", "zipkin"},
    "processors": {"batch", "memory_limiter", "attributes", "transform", "filter", "resource", "redaction",
                   "tail_sampling", "probabilistic_sampler", "resourcedetection", "k8sattributes", "span"},
    "exporters": {"otlp", "otlphttp", "debug", "nop", "prometheus", "prometheusremotewrite", "file", "zipkin",
                  "kafka", "loadbalancing"},
    "extensions": {"health_check", "pprof", "zpages", "basicauth", "bearertokenauth", "headers_setter"},
    "connectors": {"spanmetrics", "forward", "count", "routing"},
}
COLLECTOR_CONFIGS = [p for p in YAML_FILES if "service" in _load(p) and "pipelines" in (_load(p)["service"] or {})]


def test_the_collector_configs_are_found():
    assert {_rel(p) for p in COLLECTOR_CONFIGS} == {
        "collector/otel-collector.yaml", "collector/otel-collector-fanout.yaml", "tempo/otel-collector.yaml",
        "team-server/otel-collector-gateway.yaml", "team-server/otel-collector-sidecar.yaml"}


@pytest.mark.parametrize("path", COLLECTOR_CONFIGS, ids=_rel)
def test_collector_config_uses_defined_contrib_components(path):
    config = _load(path)
    for kind in ("receivers", "processors", "exporters", "extensions", "connectors"):
        for component_id in config.get(kind) or {}:
            assert component_id.split("/")[0] in CONTRIB[kind], f"{kind}: {component_id}"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    for pipeline_id, pipeline in config["service"]["pipelines"].items():
        assert pipeline_id.split("/")[0] in {"traces", "metrics", "logs"}
        assert pipeline["receivers"] and pipeline["exporters"]
        for kind in ("receivers", "processors", "exporters"):
            for component_id in pipeline.get(kind, []):
                assert component_id in config[kind], f"{pipeline_id} uses undefined {kind[:-1]} {component_id}"
        processors = pipeline.get("processors", [])
        assert processors[0] == "memory_limiter" and processors[-1] == "batch", pipeline_id
    # Inside a container the receivers must bind every interface (localhost is the default since v0.104).
    for protocol, port in (("grpc", 4317), ("http", 4318)):
        assert config["receivers"]["otlp"]["protocols"][protocol]["endpoint"] == f"0.0.0.0:{port}"
    for exporter_id, exporter in config["exporters"].items():
        if exporter_id.startswith("otlp/"):
            assert exporter["tls"] == {"insecure": True}


def test_the_privacy_processor_deletes_exactly_our_content_attributes():
    config = _load(GUIDES / "collector" / "otel-collector.yaml")
    actions = config["processors"]["attributes/drop-content"]["actions"]
    assert {a["action"] for a in actions} == {"delete"}
    assert [a["key"] for a in actions] == [
        semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES, semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
        semconv.INPUT_VALUE, semconv.OUTPUT_VALUE]
    assert "attributes/drop-content" in config["service"]["pipelines"]["traces"]["processors"]
    assert "attributes/drop-content" not in config["service"]["pipelines"]["metrics"]["processors"]


# --- Prometheus names ----------------------------------------------------------------------------

_UNITS = {"d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
          "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
          "TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
          "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
          "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent"}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}


def _clean(text: str) -> str:
    return "_".join(t for t in re.split(r"[^a-zA-Z0-9:]", text) if t)


def prometheus_name(name: str, unit: str, kind: str) -> str:
    """An OTel metric's Prometheus name under UnderscoreEscapingWithSuffixes (otlptranslator).

    ``kind`` is ``counter`` (monotonic sum), ``gauge`` or ``histogram``. Histograms get ``_bucket``,
    ``_sum`` and ``_count`` on top of this name.
    """
    tokens = [t for t in re.split(r"[^a-zA-Z0-9:]", name) if t]
    main, _, per = (part.strip() for part in unit.partition("/"))
    if main and not re.search(r"[{}]", main):
        main_suffix = _clean(_UNITS.get(main, main))
        if main_suffix and main_suffix not in tokens:
            tokens.append(main_suffix)
    if per and not re.search(r"[{}]", per):
        per_suffix = _clean(_PER_UNITS.get(per, per))
        if per_suffix and per_suffix not in tokens:
            tokens += ["per", per_suffix]
    if kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    return "_" + out if out[:1].isdigit() else out


def prometheus_label(key: str) -> str:
    label = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    if label[0].isdigit():
        return "key_" + label
    if label.startswith("_") and not label.startswith("__"):
        return "key" + label
    return label


@pytest.mark.parametrize(("name", "unit", "kind", "expected"), [
    # Vectors from prometheus/otlptranslator's metric_namer_test.go.
    ("http.server.duration", "s", "histogram", "http_server_duration_seconds"),
    ("requests", "", "counter", "requests_total"),
    ("requests_total", "", "counter", "requests_total"),
    ("cpu_usage", "1", "gauge", "cpu_usage_ratio"),
    ("items", "1", "counter", "items_total"),
    ("requests", "1/s", "gauge", "requests_per_second"),
    ("throughput", "By/s", "gauge", "throughput_bytes_per_second"),
    ("custom_metric", "custom_unit", "gauge", "custom_metric_custom_unit"),
    ("custom_metric", "{custom}", "gauge", "custom_metric"),
    ("custom_metric", "By/{custom}", "gauge", "custom_metric_bytes"),
    ("response_time_seconds", "s", "gauge", "response_time_seconds"),
    ("metric__with__multiple__underscores", "unit__multiple__underscores", "gauge",
     "metric_with_multiple_underscores_unit_multiple_underscores"),
])
def test_prometheus_name_follows_the_collector(name, unit, kind, expected):
    assert prometheus_name(name, unit, kind) == expected


@pytest.mark.parametrize(("key", "expected"), [
    ("http.method", "http_method"), ("123invalid", "key_123invalid"), ("_private", "key_private"),
    ("__reserved__", "__reserved__"), ("gen_ai.request.model", "gen_ai_request_model")])
def test_prometheus_label_follows_the_collector(key, expected):
    assert prometheus_label(key) == expected


@pytest.fixture(scope="module")
def emitted():
    """{metric name: (unit, kind, attribute keys)} for what traceglass records on real calls."""
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    tracer_provider = TracerProvider()
    prices = {"gpt-4o-mini": {"input_per_1k": 0.00015, "output_per_1k": 0.0006}}
    tracer_provider.add_span_processor(CostSpanProcessor(
        SimpleSpanProcessor(InMemorySpanExporter()), prices=prices, meter_provider=meter_provider,
        use_genai_prices=False))
    handler = TelemetryHandler(tracer_provider=tracer_provider, meter_provider=meter_provider)

    def call() -> LLMInvocation:
        return LLMInvocation(operation="chat", provider="openai", request_model="gpt-4o-mini",
                             server_address="api.openai.com", server_port=443, streaming=True)

    streamed = call()
    handler.start(streamed, kind=SpanKind.CLIENT)
    streamed.response_model = "gpt-4o-mini-2024-07-18"
    streamed.input_tokens, streamed.output_tokens, streamed.time_to_first_token_s = 120, 30, 0.2
    handler.stop(streamed)
    failed = call()
    handler.start(failed, kind=SpanKind.CLIENT)
    handler.fail(failed, TimeoutError("read timed out"))

    out: dict[str, tuple[str, str, set[str]]] = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if isinstance(metric.data, Histogram):
                    kind = "histogram"
                elif isinstance(metric.data, Sum) and metric.data.is_monotonic:
                    kind = "counter"
                else:
                    kind = type(metric.data).__name__
                keys = {k for point in metric.data.data_points for k in (point.attributes or {})}
                out[metric.name] = (metric.unit, kind, keys)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return out


def test_traceglass_emits_the_metrics_the_guide_documents(emitted):
    assert set(emitted) == {
        semconv.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, semconv.METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
        semconv.METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, semconv.METRIC_COST}
    names = {prometheus_name(name, unit, kind) for name, (unit, kind, _keys) in emitted.items()}
    # The names tempo.md documents and the dashboard queries.
    assert names == {"gen_ai_client_token_usage", "gen_ai_client_operation_duration_seconds",
                     "gen_ai_client_operation_time_to_first_chunk_seconds", "traceglass_gen_ai_client_cost_USD_total"}
    tempo_guide = (GUIDES / "tempo.md").read_text()
    for name in names:
        assert f"`{name}" in tempo_guide, name


def _series_and_labels(emitted) -> tuple[set[str], set[str]]:
    series, labels = set(), {"le", "job", "instance"}
    for name, (unit, kind, keys) in emitted.items():
        base = prometheus_name(name, unit, kind)
        series |= {base + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {base}
        labels |= {prometheus_label(k) for k in keys}
    return series, labels


PROMQL_WORDS = {"sum", "avg", "min", "max", "count", "by", "without", "on", "ignoring", "group_left",
                "group_right", "rate", "irate", "increase", "histogram_quantile", "label_values", "topk",
                "bottomk", "and", "or", "unless", "offset", "bool", "clamp_min", "clamp_max"}


def _promql_queries(dashboard: dict) -> list[str]:
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"] if t["datasource"]["type"] == "prometheus"]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["datasource"]["type"] == "prometheus"]
    return queries


def test_dashboard_promql_uses_only_names_our_metrics_have(emitted):
    series, labels = _series_and_labels(emitted)
    dashboard = json.loads(DASHBOARD.read_text())
    queries = _promql_queries(dashboard)
    assert len(queries) >= 10
    used_series = set()
    for query in queries:
        text = re.sub(r'"[^"]*"', '""', query)  # label values are free text
        text = re.sub(r"\$\w+", "", text)  # Grafana variables ($__range, $service)
        for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
            word = match.group()
            if word in PROMQL_WORDS:
                continue
            assert word in series | labels, f"{word!r} in {query!r} is neither one of our series nor a label"
            if text[match.end():].lstrip()[:1] in ("{", "["):
                assert word in series, f"{word!r} is used as a metric in {query!r}"
                used_series.add(word)
    # Every metric traceglass emits has at least one panel.
    for name, (unit, kind, _keys) in emitted.items():
        base = prometheus_name(name, unit, kind)
        assert any(s.startswith(base) for s in used_series), base


def _alert_queries() -> list[str]:
    """The PromQL of grafana-alerts.md: its promql blocks, the expr of its rule files, its table's queries."""
    text = (GUIDES / "grafana-alerts.md").read_text()
    queries = [block for _, block in _fenced_blocks("promql")]
    for _, block in _fenced_blocks("yaml"):
        queries += re.findall(r"expr: (.+)", block)
    queries += [q for q in re.findall(r"`([^`\n]+)`", text) if "increase(" in q or "histogram_quantile(" in q]
    return queries


def test_grafana_alerts_promql_uses_only_names_our_metrics_have(emitted):
    series, labels = _series_and_labels(emitted)
    labels |= {prometheus_label(semconv.USER_ID)}  # on the cost counter with metric_user_attributes=True
    queries = _alert_queries()
    assert len(queries) >= 12
    for query in queries:
        text = re.sub(r'"[^"]*"', '""', query)
        text = re.sub(r"\[\d+[smhdw]\]", "[]", text)
        text = re.sub(r"\b\d+(\.\d+)?(e\d+)?\b", "", text)
        for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
            word = match.group()
            if word in PROMQL_WORDS | {"absent"}:
                continue
            assert word in series | labels, f"{word!r} in {query!r} is neither one of our series nor a label"


def test_dashboard_panels_have_unique_ids_and_fit_the_grid():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"] and all(t["refId"] for t in panel["targets"])


# --- attribute names in the guides ----------------------------------------------------------------


def _known_attribute_names() -> set[str]:
    names = {getattr(semconv, n) for n in semconv.__all__ if isinstance(getattr(semconv, n, None), str)}
    for variant in (latest.BASELINE, latest.LATEST):
        names |= {v for v in vars(variant).values() if isinstance(v, str)}
    return {n for n in names if "." in n}


def test_traceql_in_the_dashboard_and_the_guides_names_real_attributes():
    known = _known_attribute_names()
    dashboard = json.loads(DASHBOARD.read_text())
    traceql = [t["query"] for p in dashboard["panels"] for t in p["targets"] if t["datasource"]["type"] == "tempo"]
    traceql += re.findall(r"`(\{ [^`]* \})`", (GUIDES / "tempo.md").read_text())
    assert len(traceql) >= 4
    for query in traceql:
        for key in re.findall(r"\bspan\.([a-z0-9_.]+[a-z0-9_])", query):
            assert key in known, (key, query)


def test_jaeger_tag_searches_name_real_attributes():
    known = _known_attribute_names() | {"error"}  # Jaeger's own tag for status ERROR
    rows = re.findall(r"^\|[^|]+\| `([^`]+=[^`]+)` \|$", (GUIDES / "jaeger.md").read_text(), re.MULTILINE)
    assert len(rows) >= 4
    for row in rows:
        for pair in row.split():
            assert pair.split("=")[0] in known, pair


def test_attribute_names_quoted_in_the_guides_are_real():
    known = _known_attribute_names()  # the METRIC_* names are semconv constants too
    for path in MARKDOWN_FILES:
        for name in re.findall(r"`((?:gen_ai|traceglass)\.[a-z0-9_.]*[a-z0-9_])`", path.read_text()):
            assert name in known, (path.name, name)
