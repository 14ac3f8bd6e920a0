"""Arize Phoenix, a real OTLP trace backend, installed from PyPI into its own venv.

:class:`PhoenixServer` starts ``phoenix serve`` on free loopback ports with a
throw-away SQLite working directory, waits for ``/healthz``, reads spans back
through the REST API (``/v1/projects/{project}/spans``) and GraphQL, and stops
it. Telemetry to Arize is disabled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .net import HOST, free_port, wait_for

PHOENIX_PINS = ["arize-phoenix==20.26.1"]


class PhoenixServer:
    def __init__(self, venv: Path, workdir: Path) -> None:
        self.venv = venv
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.log_path = workdir / "phoenix.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://{HOST}:{self.grpc_port}"

    def start(self, timeout_s: float = 120.0) -> PhoenixServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PHOENIX_", "VIRTUAL_ENV"))}
        env.update(
            PHOENIX_HOST=HOST,
            PHOENIX_PORT=str(self.http_port),
            PHOENIX_GRPC_PORT=str(self.grpc_port),
            PHOENIX_WORKING_DIR=str(self.workdir / "data"),
            PHOENIX_TELEMETRY_ENABLED="false",
        )
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [str(self.venv / "bin" / "phoenix"), "serve"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            wait_for(self._healthy, timeout_s, "Phoenix /healthz", interval_s=0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"phoenix exited with {self._process.returncode}:\n{self.output()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # phoenix serve may spawn workers: stop its own process group (it has its own session)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PhoenixServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ------------------------------------------------------------ reading back
    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base_url}{path}", timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310
            f"{self.base_url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def spans(self, trace_id: str, project: str = "default") -> list[dict[str, Any]]:
        data = self.get_json(f"/v1/projects/{project}/spans?trace_id={trace_id}&limit=1000")
        return list(data.get("data", []))

    def wait_for_trace(
        self, trace_id: str, expected: int, timeout_s: float = 30.0, project: str = "default"
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        spans: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                spans = self.spans(trace_id, project)
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # project not created yet
                    raise
            if len(spans) >= expected:
                return spans
            time.sleep(0.5)
        raise AssertionError(
            f"Phoenix had {len(spans)} of {expected} spans of trace {trace_id} after {timeout_s:.0f}s\n"
            f"--- phoenix log tail ---\n{self.output()[-2000:]}"
        )
