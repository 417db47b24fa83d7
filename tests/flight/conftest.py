"""Fixtures of the end-to-end Flight suite: build and run the real fdag-flight
binary on a free loopback port.

The binary is ``$FDAG_FLIGHT_BIN`` when set; otherwise it is built once per
session with ``go build ./cmd/fdag-flight`` from the repository root (the
suite is skipped, with the reason, when Go or the command is missing). Each
server's stdout/stderr go to a log file whose tail is attached to the report
of every failing test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]

# The client is importable from the source tree even when not pip-installed.
_SRC = REPO / "clients" / "python" / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import fdag  # noqa: E402


class FlightServer:
    """One running fdag-flight process."""

    def __init__(self, binary: str, args: List[str], log_dir: Path, name: str) -> None:
        self.args = [binary, "--listen", "127.0.0.1:0", *args]
        self.log_path = log_dir / f"{name}.log"
        self.name = name
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=str(log_dir),
        )
        self.address = self._wait_for_address(timeout=60)
        # Keep draining stdout into the log so the server never blocks on it.
        self._drain = threading.Thread(target=self._copy_stdout, daemon=True)
        self._drain.start()
        _RUNNING.append(self)

    def _wait_for_address(self, timeout: float) -> str:
        box: List[bytes] = []

        def first_line() -> None:
            assert self.proc.stdout is not None
            box.append(self.proc.stdout.readline())

        t = threading.Thread(target=first_line, daemon=True)
        t.start()
        t.join(timeout)
        line = box[0].decode("utf-8", "replace").strip() if box else ""
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(
                f"fdag-flight {' '.join(self.args[1:])} did not print 'listening on HOST:PORT' "
                f"(first line: {line!r}, exit code {self.proc.poll()}):\n{self.log_tail()}"
            )
        self._log.write(box[0])
        self._log.flush()
        return line[len("listening on "):].strip()

    def _copy_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self._log.write(line)
                self._log.flush()
            except ValueError:  # log closed
                return

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def location(self, scheme: str = "grpc") -> str:
        return f"{scheme}://{self.address}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 60) -> str:
        try:
            self._log.flush()
        except ValueError:
            pass
        try:
            lines = self.log_path.read_text("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        try:
            self._log.close()
        except Exception:
            pass
        if self in _RUNNING:
            _RUNNING.remove(self)


_RUNNING: List[FlightServer] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for s in list(_RUNNING):
            rep.sections.append((f"fdag-flight log ({s.name}, alive={s.alive()})", s.log_tail()))


def _go_binary(name: str, env_var: str, tmp_path_factory) -> str:
    """Path to cmd/NAME: $ENV_VAR when set, else built with go build."""
    env = os.environ.get(env_var)
    if env:
        if not os.access(env, os.X_OK):
            pytest.fail(f"{env_var}={env} is not an executable file")
        return env
    if not (REPO / "cmd" / name).is_dir():
        pytest.skip(f"{REPO}/cmd/{name} does not exist yet and {env_var} is unset")
    go = shutil.which("go")
    if go is None:
        pytest.skip(f"Go is not installed and {env_var} is unset: cannot build {name}")
    out = tmp_path_factory.mktemp("bin")
    res = subprocess.run(
        [go, "build", "-o", str(out / name), f"./cmd/{name}"],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if res.returncode != 0:
        pytest.fail(f"go build ./cmd/{name} failed:\n{res.stdout}{res.stderr}")
    return str(out / name)


@pytest.fixture(scope="session")
def flight_binary(tmp_path_factory) -> str:
    """Path to the fdag-flight binary (FDAG_FLIGHT_BIN, or built with go build)."""
    return _go_binary("fdag-flight", "FDAG_FLIGHT_BIN", tmp_path_factory)


@pytest.fixture(scope="session")
def fdag_bin(tmp_path_factory) -> str:
    """Path to the fdag command line (FDAG_BIN, or built with go build)."""
    return _go_binary("fdag", "FDAG_BIN", tmp_path_factory)


@pytest.fixture(scope="session")
def start_server(flight_binary, tmp_path_factory):
    """Factory: ``start_server(*args, name=...)`` starts fdag-flight with extra
    flags and stops it at the end of the session."""
    started: List[FlightServer] = []
    log_dir = tmp_path_factory.mktemp("flight")

    def start(*args: str, name: str = "server") -> FlightServer:
        s = FlightServer(flight_binary, list(args), log_dir, f"{name}-{len(started)}")
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def server(start_server) -> FlightServer:
    """A plain (no auth, no TLS) server shared by the session."""
    return start_server(name="plain")


@pytest.fixture
def client(server):
    assert server.alive(), f"fdag-flight exited:\n{server.log_tail()}"
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        yield c
