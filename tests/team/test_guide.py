"""docs/guides/team-server.md and its Collector configs agree with the server (issue 20).

tests/docs/test_guides.py checks every guide's files parse and name real contrib components; this
checks the wiring only this guide has: the gateway routes by trace id to the port the sidecar listens
on, the sidecar posts to the port and paths the replica serves with the token it needs, and the
Kubernetes snippet's arguments, probes and grace period fit the server's options."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from traceglass.cli import build_parser
from traceglass.server._health import HEALTH_PATHS, READY_TIMEOUT_S
from traceglass.server._openapi import openapi_schema

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "team-server.md"
CONFIGS = ROOT / "docs" / "guides" / "team-server"


def _load(name: str) -> dict:
    return yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8"))


def _pod_spec() -> dict:
    [spec] = [block for block in re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
              if "containers:" in block]
    return yaml.safe_load(spec)["spec"]


def test_the_gateway_routes_traces_and_scores_by_trace_id_to_the_sidecars_port():
    gateway, sidecar = _load("otel-collector-gateway.yaml"), _load("otel-collector-sidecar.yaml")
    balancer = gateway["exporters"]["loadbalancing"]
    assert balancer["routing_key"] == "traceID"
    assert "endpoint" not in balancer["protocol"]["otlp"]  # filled in per backend by the resolver
    for signal in ("traces", "logs"):
        assert gateway["service"]["pipelines"][signal]["exporters"] == ["loadbalancing"]
        assert sidecar["service"]["pipelines"][signal]["exporters"] == ["otlphttp/traceglass"]
    grpc_port = int(sidecar["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].rsplit(":", 1)[1])
    assert balancer["resolver"]["dns"]["port"] == grpc_port
    assert "metrics" not in gateway["service"]["pipelines"]  # traceglass drops metrics: not routed by trace


def test_the_sidecar_posts_to_its_replica_with_the_token():
    exporter = _load("otel-collector-sidecar.yaml")["exporters"]["otlphttp/traceglass"]
    assert exporter["endpoint"] == "http://127.0.0.1:8080"
    assert exporter["headers"] == {"authorization": "Bearer ${env:TRACEGLASS_TOKEN}"}
    assert exporter["retry_on_failure"]["enabled"] is True  # a draining or unready replica answers 503
    paths = openapi_schema()["paths"]
    assert "post" in paths["/v1/traces"] and "post" in paths["/v1/logs"]  # what otlphttp appends
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "\nEXPOSE 8080\n" in dockerfile


def test_the_pod_spec_fits_the_server():
    spec = _pod_spec()
    server = next(c for c in spec["containers"] if c["name"] == "traceglass")
    args = build_parser().parse_args(["ui", *server["args"]])
    assert (args.host, args.port) == ("0.0.0.0", 8080)
    probes = {server["livenessProbe"]["httpGet"]["path"], server["readinessProbe"]["httpGet"]["path"]}
    assert probes == set(HEALTH_PATHS) == {"/healthz", "/readyz"}
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"  # never liveness on the database
    assert all(p["httpGet"]["port"] == args.port for p in (server["livenessProbe"], server["readinessProbe"]))
    # Readiness waits longer than /readyz's own bound, so a slow database is a 503, not a probe timeout.
    assert server["readinessProbe"]["timeoutSeconds"] > READY_TIMEOUT_S
    pre_stop = server["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] > pre_stop + args.shutdown_timeout
    names = {env["name"]: env for env in server["env"]}
    assert set(names) == {"TRACEGLASS_DB", "TRACEGLASS_TOKEN"}
    assert all("valueFrom" in env and "value" not in env for env in names.values())  # from a secret
    sidecar = next(c for c in spec["containers"] if c["name"] == "otlp-sidecar")
    assert sidecar["args"] == ["--config=/etc/otelcol/otel-collector-sidecar.yaml"]
