"""``genai-cost gateway`` run as a user runs it: a subprocess on a free loopback port,
stopped with SIGTERM, its console output kept for the test to read."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .net import HOST, wait_for

#: What a sender's gpt-4o chat span says, and what the shipped catalog prices it at.
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 100,
}
CHAT_USD = (1000 * 2.50 + 100 * 10.00) / 1e6


class GatewayProcess:
    """A context manager: ``url`` while running; ``stdout``, ``stderr`` and
    ``returncode`` once :meth:`stop` (or leaving the block) has ended it."""

    def __init__(self, env: Mapping[str, str], args: Sequence[str] = (), host: str = HOST) -> None:
        #: Where ``--http`` listens: 127.0.0.1, or an IPv6 address such as ``::1``.
        self.host = host
        self.port = _free_port(host)
        self._env = {**os.environ, **env}
        self._args = tuple(args)
        self._process: subprocess.Popen[str] | None = None
        self.stdout = self.stderr = ""
        self.returncode: int | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT`` as ``--http`` takes it (an IPv6 address in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/v1/traces"

    def __enter__(self) -> GatewayProcess:
        # stderr goes to a file, which the test can read while the gateway runs (stderr_so_far).
        self._stderr_file = tempfile.TemporaryFile()
        self._process = process = subprocess.Popen(
            [sys.executable, "-m", "genai_cost.cli", "gateway", "--http", self.address, "--grpc", "off",
             *self._args],
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            text=True,
            env=self._env,
        )
        # The gateway listens (and answers) before it installs its SIGTERM handler: a SIGTERM
        # sent in between, on a loaded machine, killed it outright, with no graceful stop.
        wait_for(
            lambda: process.poll() is not None or (self._listening() and _catches_sigterm(process.pid)),
            30,
            "the gateway to listen",
        )
        if process.poll() is not None:
            self.stop()
            raise RuntimeError(f"the gateway exited at start:\n{self.stderr}")
        return self

    def _listening(self) -> bool:
        with socket.socket(_family(self.host), socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((self.host, self.port)) == 0

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; killed if it does not end in 30 s."""
        process = self._process
        if process is None or self.returncode is not None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            self.stdout, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            self.stdout, _ = process.communicate()
        self.stderr = self.stderr_so_far()
        self._stderr_file.close()
        self.returncode = process.returncode

    def stderr_so_far(self) -> str:
        """What the gateway has written on stderr until now (read without moving the offset
        it writes at)."""
        fd = self._stderr_file.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _free_port(host: str) -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has its SIGTERM handler installed (Linux: the caught-signals mask
    of /proc/PID/status). Where there is no /proc, only the port is waited for."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return True
