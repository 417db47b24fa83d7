"""The README's main job (scripts/demo.sh) run as a new user would: twice,
and while its first server is still serving. The second run must not
touch a warehouse that server uses (it once wiped out/demo and the server
failed on every call), and a port in use is found before anything is
touched."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

import fdag

DEMO = REPO / "scripts" / "demo.sh"


def demo(project: Path, **env: str) -> subprocess.CompletedProcess:
    e = dict(os.environ, ROWS="4000", DAYS="1", PROJECT=str(project), **env)
    return subprocess.run(["bash", str(DEMO)], env=e, capture_output=True, text=True, timeout=900, cwd=str(REPO))


@pytest.fixture()
def serving(tmp_path: Path):
    """demo.sh serving its project on a free port: (project, address)."""
    project = tmp_path / "demo"
    e = dict(os.environ, ROWS="4000", DAYS="1", PROJECT=str(project), LISTEN="127.0.0.1:0")
    proc = subprocess.Popen(["bash", str(DEMO)], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(REPO), start_new_session=True)
    addr = None
    for line in proc.stdout:
        if line.startswith("listening on "):
            addr = line.split()[2]
            break
    if addr is None:
        proc.wait(timeout=60)
        pytest.fail(f"demo.sh did not serve: exit {proc.returncode}\n{proc.stderr.read()}")
    yield project, addr
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def test_second_run_leaves_a_served_warehouse_alone(serving, tmp_path: Path):
    project, addr = serving
    client = fdag.FeatureClient(f"grpc://{addr}")
    before = client.read_table("ft_features").num_rows
    assert before > 0

    again = demo(project, SERVE="0")
    assert again.returncode == 1
    assert f"is serving {project}" in again.stderr, again.stderr
    # the first server still answers from its intact warehouse
    assert client.health()["status"] == "ok"
    assert client.read_table("ft_features").num_rows == before

    other = tmp_path / "other"
    busy = demo(other, LISTEN=addr)
    assert busy.returncode == 1
    assert f"{addr} is already in use" in busy.stderr, busy.stderr
    assert not other.exists(), "the port was checked after touching the project"
    client.close()


def test_twice_without_a_server(tmp_path: Path):
    project = tmp_path / "demo"
    for _ in range(2):
        res = demo(project, SERVE="0")
        assert res.returncode == 0, res.stderr
        assert "committed" in res.stdout
