"""The Grafana dashboard reads only metrics the services define; Prometheus scrapes every service where compose runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.devstack.stack import SERVICES
from shared.metrics import new_metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/grafana/concierge-dashboard.json"
PROMETHEUS = ROOT / "deploy/prometheus.yml"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:])[a-zA-Z_:][\w:]*+(?!\s*\()")  # a whole name, not called like a function
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "inf", "nan"}
_SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression reads (label values, ranges and groupings set aside)."""
    bare = _GROUPING.sub("", _RANGE.sub("", _MATCHERS.sub("", _STRING.sub('""', expr))))
    return {name for name in _IDENTIFIER.findall(bare) if name.lower() not in _KEYWORDS}


def defined_sample_names() -> set[str]:
    """Return every sample name shared/metrics.py exposes (counters as _total, histograms as _bucket/_count/_sum)."""
    names: set[str] = set()
    for family in new_metrics().registry.collect():
        names |= {family.name + suffix for suffix in _SAMPLE_SUFFIXES[family.type]}
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_names_are_read_out_of_promql_and_an_unknown_one_would_be_caught() -> None:
    expr = 'histogram_quantile(0.99, sum by (le, route) (rate(http_latency_ms_bucket{status=~"5.."}[$__rate_interval])))'
    assert metric_names(expr) == {"http_latency_ms_bucket"}
    assert not metric_names(expr) <= defined_sample_names()
    assert metric_names("max(relay_lag_events) - max(kafka_consumer_lag offset 5m)") == {
        "relay_lag_events",
        "kafka_consumer_lag",
    }


def test_the_dashboard_loads_and_picks_its_prometheus_datasource_from_a_variable(
    dashboard: dict[str, Any],
) -> None:
    assert 36 <= dashboard["schemaVersion"] <= 41
    [variable] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${" + variable["name"] + "}", panel["title"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_every_metric_a_panel_reads_is_one_the_services_define(dashboard: dict[str, Any]) -> None:
    defined = defined_sample_names()
    for expr in expressions(dashboard):
        used = metric_names(expr)
        assert used, expr
        assert used <= defined, f"{expr}: {sorted(used - defined)} is not defined in shared/metrics.py"


def test_the_dashboard_shows_requests_database_kafka_lags_and_dead_letters(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(e) for e in expressions(dashboard)))
    assert {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "mongodb_commands_total",
        "kafka_records_produced_total",
        "kafka_records_consumed_total",
        "kafka_consumer_lag",
        "relay_lag_events",
        "kafka_dead_letters_total",
        "kafka_handler_duration_seconds_bucket",
    } <= used


def test_prometheus_scrapes_every_service_at_the_port_compose_gives_it() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    scraped: dict[str, str] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for group in job["static_configs"]:
            for target in group["targets"]:
                scraped[group["labels"]["service"]] = target
    for spec in SERVICES:
        port = compose["services"][spec.name]["environment"][f"{spec.env_prefix}PORT"]
        assert scraped.get(spec.name) == f"{spec.name}:{port}", spec.name
