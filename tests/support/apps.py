"""Running a small application under ``opentelemetry-instrument`` in a tool venv."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .rotel import RotelCollector


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any OTEL_* / GENAI_COST_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_COST_", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def run_instrumented(
    venv: Path,
    script: Path,
    collector: RotelCollector,
    *,
    protocol: str = "grpc",
    env: dict[str, str] | None = None,
    timeout_s: float = 90,
    configurator: str = "genai_cost",
) -> str:
    """Run ``script`` with ``opentelemetry-instrument`` (genai-cost switched on by
    ``OTEL_PYTHON_CONFIGURATOR``), exporting OTLP to ``collector``. Returns the
    trace id the script prints on its last line."""
    endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
    full_env = clean_env(
        OTEL_PYTHON_CONFIGURATOR=configurator,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_SERVICE_NAME=script.stem,
    )
    full_env.update(env or {})
    command = [str(venv / "bin" / "opentelemetry-instrument"), str(venv / "bin" / "python"), str(script)]
    return run_printing_trace_id(command, script, full_env, timeout_s)


def run_printing_trace_id(command: list[str], script: Path, env: dict[str, str], timeout_s: float) -> str:
    """Run ``command`` (which runs ``script``) in the script's folder; the trace id the script
    prints on its last line."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, cwd=str(script.parent))
    if done.returncode != 0:
        raise AssertionError(f"{script.name} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise AssertionError(f"{script.name} printed no trace id; stderr:\n{done.stderr[-3000:]}")
    return lines[-1].strip()
