"""A real local Ray cluster on 127.0.0.1 and a real S3 server (versitygw) on
loopback, for the distributed-run tests.

The fdag binary is $FDAG_BIN and versitygw is $VERSITYGW (scripts/test.sh
builds both and sets them). Without them the tests skip, saying so, unless
CI is set, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

# Ray resolves a node address of 127.0.0.1 to the machine's own address and
# listens on every interface; with its "no clusters" mode (meant for laptops)
# every Ray server of this local cluster listens on 127.0.0.1 only (checked
# by test_cluster_listens_on_loopback_only). Set before ray is imported.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ACCESS, SECRET = "fdagray", "fdagraysecret123"
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
START, END = "2024-01-02", "2024-01-07"  # 5 days
FEATURES = Path(__file__).resolve().parents[2] / "testdata" / "features" / "demo.yaml"


def _need(var: str, what: str) -> str:
    path = os.environ.get(var)
    if not path:
        msg = f"{var} is not set: {what} (scripts/test.sh sets it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{var}={path} is not an executable file")
    return path


@pytest.fixture(scope="session")
def fdag_bin() -> str:
    return _need("FDAG_BIN", "build bin/fdag")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def versitygw(bin_path: str, root: Path) -> Iterator[dict]:
    """versitygw on a free loopback port over root (the posix backend:
    objects are files under root/BUCKET/KEY)."""
    port = free_port()
    log = open(root.parent / f"{root.name}-versitygw.log", "w")
    env = dict(os.environ, ROOT_ACCESS_KEY=ACCESS, ROOT_SECRET_KEY=SECRET)
    proc = subprocess.Popen([bin_path, "--port", f"127.0.0.1:{port}", "posix", str(root)],
                            stdout=log, stderr=log, env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"versitygw did not listen on 127.0.0.1:{port}: " + Path(log.name).read_text())
            time.sleep(0.05)
    try:
        yield {"endpoint": f"http://127.0.0.1:{port}", "root": root}
    finally:
        proc.kill()
        proc.wait()
        log.close()


@pytest.fixture(scope="session")
def s3(tmp_path_factory) -> Iterator[dict]:
    with versitygw(_need("VERSITYGW", "install versitygw"), tmp_path_factory.mktemp("s3")) as server:
        yield server


def write_project(dir: Path, s3: dict, bucket: str) -> Path:
    """A project whose warehouse is on S3 and whose SQLite catalog is under
    dir (the default .fdag/catalog.db); secrets come from the environment."""
    dir.mkdir(parents=True, exist_ok=True)
    (dir / "fdag.yaml").write_text(f"""catalog:
  warehouse: s3://{bucket}/warehouse
  s3:
    endpoint: {s3['endpoint']}
    region: us-east-1
    access_key_id: ${{FDAG_S3_KEY}}
    secret_access_key: ${{FDAG_S3_SECRET}}
    create_bucket: true
""")
    return dir


@pytest.fixture(scope="session")
def ray_cluster(fdag_bin, s3) -> Iterator[object]:
    """A local Ray cluster: 2 CPUs, no dashboard, on 127.0.0.1 only. Its
    workers inherit FDAG_BIN and the S3 credentials from this environment."""
    import ray

    os.environ["FDAG_S3_KEY"], os.environ["FDAG_S3_SECRET"] = ACCESS, SECRET
    os.environ.pop("RAY_ADDRESS", None)
    ctx = ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                   log_to_driver=False, configure_logging=False)
    try:
        yield ctx
    finally:
        ray.shutdown()


def run_fdag(fdag_bin: str, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([fdag_bin, *args], capture_output=True, text=True, timeout=600,
                          env=None if env is None else dict(os.environ, **env))
    if check and proc.returncode != 0:
        raise AssertionError(f"fdag {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def listening_addresses(root_pid: int) -> list[str]:
    """The local addresses of the TCP sockets in LISTEN state that root_pid
    and its descendants hold, from /proc (hex as the kernel writes them)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    pids, todo = set(), [root_pid]
    while todo:
        p = todo.pop()
        pids.add(p)
        todo.extend(children.get(p, []))
    inodes = set()
    for p in pids:
        try:
            for fd in Path(f"/proc/{p}/fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # LISTEN
                out.append(f[1])
    return out


LOOPBACK_HEX = ("0100007F:", "0000000000000000FFFF00000100007F:", "00000000000000000000000001000000:")
