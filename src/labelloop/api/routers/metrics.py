"""Project KPIs and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from labelloop.api.deps import CurrentPrincipal, ProjectRegistry, Registry
from labelloop.governance.service import require
from labelloop.metrics.dashboard import kpis
from labelloop.store import repo

router = APIRouter(tags=["metrics"])


@router.get("/api/v1/projects/{project}/metrics", summary="The KPIs of `labelloop status`")
def project_metrics(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Data-health and labeling KPIs of one project (the same figures as the dashboard's headline)."""
    require(principal, "metrics.read", project)
    return kpis(registry.get(project))


class StoreCollector(Collector):
    """Reads the counters kept with the writes at scrape time (no COUNT(*))."""

    def __init__(self, registry: ProjectRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "labelloop_records", "Records by project and status (live counters).", labels=["project", "status"]
        )
        with self.registry.store.read() as conn:
            for project_id, name in repo.project_names(conn).items():
                for key, value in sorted(repo.get_counters(conn, project_id).items()):
                    family.add_metric([name, key], value)
        yield family


@router.get("/metrics", include_in_schema=False)
def prometheus(registry: Registry) -> Response:
    """Prometheus text exposition."""
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(StoreCollector(registry))
    return Response(generate_latest(collectors), media_type="text/plain; version=0.0.4; charset=utf-8")
