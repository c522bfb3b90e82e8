"""Wiring that only the composition root may do: the API app with the workers' job functions."""

from __future__ import annotations

from starlette.applications import Starlette

from api.app import JobWiring, create_app
from core.settings import Settings
from processors.registry import Registry, default_registry
from workers.jobs import JOBS
from workers.worker import close_job_context, job_context


def build_app(settings: Settings, registry: Registry | None = None) -> Starlette:
    """The API app on `registry` (default: the service's processors), running jobs in-process without Redis."""
    processors = registry if registry is not None else default_registry()
    return create_app(
        settings,
        registry=processors,
        jobs=JobWiring(
            functions=JOBS,
            open_context=lambda metrics: job_context(settings, processors, metrics_registry=metrics),
            close_context=close_job_context,
        ),
    )
