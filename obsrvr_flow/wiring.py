"""Wiring that only the composition root may do: the API app with the workers' job functions."""

from __future__ import annotations

from starlette.applications import Starlette

from api.app import JobWiring, create_app
from core.settings import Settings
from workers.jobs import JOBS
from workers.worker import close_job_context, job_context


def build_app(settings: Settings) -> Starlette:
    return create_app(
        settings,
        jobs=JobWiring(
            functions=JOBS,
            open_context=lambda registry: job_context(settings, metrics_registry=registry),
            close_context=close_job_context,
        ),
    )
