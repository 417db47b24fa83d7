"""Distributed batch runs on Ray: each (symbol, shard) of a run is a Ray task
that runs ``fdag shard`` on a worker node, which reads the source with its
warmup, computes, and writes the shard's ft_features data files straight to
the warehouse storage; only small JSON travels: a shard config to the task
and the encoded data-file descriptors back. The driver then commits every
shard's files in one Iceberg transaction with ``fdag commit``. No feature
data passes through the driver, so its memory does not grow with the rows.

>>> import ray, fdag.ray
>>> ray.init()                                     # or ray.init(address="auto")
>>> summary = fdag.ray.run_batch_ray(
...     "testdata/features/demo.yaml", ["BTCUSDT", "ETHUSDT"],
...     "2024-01-02", "2024-01-07", shard="1d", concurrency=4, project="/srv/fdag")
>>> summary                                        # the same summary as `fdag run`

What each node needs (docs/distributed.md): the ``fdag`` binary (on PATH, or
``FDAG_BIN``, e.g. through ``runtime_env={"env_vars": {"FDAG_BIN": ...}}``),
the project directory at the same path (its ``fdag.yaml`` names the catalog
and storage; secrets come from the node's environment, never from the task
arguments), and network reach to the catalog and the storage.

Failures: a shard whose ``fdag shard`` fails is retried by Ray
(``max_retries``, ``retry_exceptions``), and so is a shard whose worker
process dies (killed, out of memory, node lost). A shard that still fails
fails the run: nothing is committed and the files the other shards staged
are removed. The run id makes the commit idempotent: committing the same run
again never duplicates rows.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .specs import FeaturesLike, normalize_features
from .warehouse import TimeLike, iso_time, symbols_list

from .progress import ProgressLike, progress_bar
from .summary import RunSummary

__all__ = ["run_batch_ray", "RunSummary", "RunFailed", "ShardFailed", "FdagBinaryNotFound", "DEFAULT_CONCURRENCY", "DEFAULT_MAX_RETRIES"]

#: Shards in flight at once by default (the original design's RayBatchExecutor).
DEFAULT_CONCURRENCY = 4
#: Ray retries of a failed or killed shard by default.
DEFAULT_MAX_RETRIES = 3

# Test hook (tests/ray): FDAG_RAY_TEST_KILL=I,J,... makes the first attempt
# of the shards with these indices SIGKILL its own Ray worker process while
# its `fdag shard` process is running (started, before it is given its
# config), as a lost node or an out-of-memory kill would; the fdag shard
# process dies with it. (The fdag binary's own hooks, FDAG_TEST_HOOK, fail
# or kill fdag shard itself at named points.)
_KILL_HOOK = "FDAG_RAY_TEST_KILL"
# FDAG_RAY_TEST_KILL_STAGED=I,J,...: the first attempt of these shards kills
# its worker after fdag shard staged its files, before the driver hears of
# them (the files are left to the run's clean-up after its commit).
_KILL_STAGED_HOOK = "FDAG_RAY_TEST_KILL_STAGED"


class ShardFailed(RuntimeError):
    """``fdag shard`` failed on a worker (Ray retries it)."""

    def __init__(self, shard: str, message: str, node: str = "") -> None:
        where = f" on {node}" if node else ""
        super().__init__(f"shard {shard}{where}: {message}")
        self.shard = shard
        self.node = node
        self.message = message

    def __reduce__(self):  # Ray pickles exceptions back to the driver
        return (ShardFailed, (self.shard, self.message, self.node))


class FdagBinaryNotFound(RuntimeError):
    """A node has no fdag binary (not retried: another attempt would not find one either)."""


class RunFailed(RuntimeError):
    """A shard failed after its retries, or the commit failed: nothing was
    committed and the staged files were removed. ``summary`` says what each
    shard did."""

    def __init__(self, message: str, summary: Optional[RunSummary]) -> None:
        super().__init__(message)
        self.summary = summary
        self.run_id = summary.run_id if summary else ""


def _find_fdag(explicit: Optional[str]) -> str:
    path = explicit or os.environ.get("FDAG_BIN") or shutil.which("fdag")
    if not path:
        raise FdagBinaryNotFound(
            f"no fdag binary on {os.uname().nodename}: install it on PATH on every node, or set FDAG_BIN "
            "(for Ray workers: runtime_env={'env_vars': {'FDAG_BIN': '/path/to/fdag'}})")
    if not os.access(path, os.X_OK):
        raise FdagBinaryNotFound(f"fdag binary {path} on {os.uname().nodename} is not executable")
    return path


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: SIGKILL the child when the worker process that started it dies,
    so that a killed worker leaves no fdag shard running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _fdag(bin_path: str, args: Sequence[str], payload: Optional[Mapping[str, Any]] = None, *,
          timeout: Optional[float] = None, what: str = "", kill_hook: Optional[Tuple[int, int]] = None) -> Any:
    """Runs ``fdag ARGS`` with ``payload`` as JSON on stdin; returns its JSON
    stdout. A failure raises ShardFailed with fdag's own message (its log's
    INFO lines left out) and, when it printed one, the JSON as ``.document``."""
    proc = subprocess.Popen([bin_path, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    if kill_hook is not None:
        _maybe_kill_self(*kill_hook)
    try:
        out, err = proc.communicate(None if payload is None else json.dumps(payload), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ShardFailed(what, f"fdag {args[0]} took more than {timeout}s", os.uname().nodename)
    doc = None
    try:
        doc = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        pass
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if " INFO " not in ln]
        e = ShardFailed(what, "\n".join(lines)[-4000:] or f"fdag {args[0]} exited {proc.returncode}", os.uname().nodename)
        e.document = doc  # type: ignore[attr-defined]
        raise e
    if doc is None:
        raise ShardFailed(what, f"fdag {args[0]} printed no JSON: {out[:200]!r}", os.uname().nodename)
    return doc


def _maybe_kill_self(index: int, attempt: int, hook: str = _KILL_HOOK) -> None:
    """The test hooks: the first attempt of a listed shard SIGKILLs its own
    worker process."""
    listed = os.environ.get(hook, "")
    if not listed or str(index) not in listed.split(",") or attempt != 0:
        return
    if hook == _KILL_HOOK:
        time.sleep(0.2)  # fdag shard is up, waiting for its config
    os.kill(os.getpid(), signal.SIGKILL)


class _Attempts:
    """A run's attempt counter (a Ray actor): each attempt of a shard takes
    the next number, which names its staged files apart from an earlier,
    killed attempt's and gives the summary its retries."""

    def __init__(self) -> None:
        self.n: Dict[int, int] = {}

    def next(self, index: int) -> int:
        a = self.n.get(index, 0)
        self.n[index] = a + 1
        return a

    def counts(self) -> Dict[int, int]:
        return dict(self.n)


def _shard_task(config: Dict[str, Any], project: str, attempts: Any, fdag_bin: Optional[str],
                timeout: Optional[float]) -> Dict[str, Any]:
    """The body of the Ray task: one attempt of one shard on this node."""
    import ray

    index = int(config["index"])
    attempt = ray.get(attempts.next.remote(index))
    config = dict(config, attempt=attempt)
    bin_path = _find_fdag(fdag_bin)
    t0 = time.monotonic()
    result = _fdag(bin_path, ["shard", "--project", project], config, timeout=timeout,
                   what=f"{index} {_label(config)} (attempt {attempt + 1})", kill_hook=(index, attempt))
    _maybe_kill_self(index, attempt, _KILL_STAGED_HOOK)
    return {"result": result, "seconds": time.monotonic() - t0, "node": os.uname().nodename}


def _label(config: Mapping[str, Any]) -> str:
    return f"{config.get('symbol')} [{config.get('start')}, {config.get('end')})"


def run_batch_ray(
    features: Union[FeaturesLike, str, os.PathLike],
    symbols: Union[str, Sequence[str]],
    start: TimeLike,
    end: TimeLike,
    shard: str = "1d",
    concurrency: int = DEFAULT_CONCURRENCY,
    project: Union[str, os.PathLike] = ".",
    *,
    source: Optional[str] = None,
    aliases: Optional[Mapping[str, str]] = None,
    run_id: Optional[str] = None,
    max_warmup_gap: Optional[str] = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    fdag_bin: Optional[str] = None,
    worker_fdag_bin: Optional[str] = None,
    worker_project: Optional[str] = None,
    shard_timeout: Optional[float] = None,
    task_options: Optional[Mapping[str, Any]] = None,
    progress: ProgressLike = None,
) -> RunSummary:
    """Compute ``features`` for ``symbols`` over ``[start, end)`` into
    ft_features with one Ray task per (symbol, shard), and commit once.

    - ``features``: spec dicts, ``{name: formula}``, ``"name=formula"`` strings,
      or the path of a YAML/JSON feature file (read on the driver).
    - ``shard``: the shard length (``"1d"``, ``"6h"``, ``"30m"``, or a Go
      duration such as ``"24h"``): the range is cut at UTC multiples of it,
      as ``fdag run --shard`` cuts it.
    - ``concurrency``: shards in flight at once (default 4).
    - ``project``: the project directory of the driver; ``worker_project``
      (default: the same path) the workers'. Both must hold the same
      ``fdag.yaml`` (the same catalog and storage).
    - ``run_id``: 16 hex digits naming the run (default: fresh). A run id that
      is already committed is not committed again.
    - ``max_warmup_gap``: as in :meth:`FeatureClient.fetch` and
      ``fdag run --max-warmup-gap`` (``"30d"``): no warmup row older than that
      before a shard's start is read.
    - ``max_retries``: Ray retries of a shard that failed or whose worker died.
    - ``fdag_bin``: the driver's fdag (default ``$FDAG_BIN``, then PATH);
      ``worker_fdag_bin``: the workers' (default: their ``$FDAG_BIN``, then PATH).
    - ``shard_timeout``: seconds an attempt may take before it is killed (and retried).
    - ``task_options``: more ``.options(...)`` of the shard tasks (``num_cpus``,
      ``memory``, ``runtime_env``, ``scheduling_strategy``, ...).
    - ``progress``: as every long call of fdag (``None``: a bar when one can
      be seen; ``True``; ``False``; a callable ``f(done, total)``).

    Returns the run's :class:`~fdag.summary.RunSummary`, the same document as
    ``fdag run --json``; raises :class:`RunFailed` (nothing committed, staged
    files removed) when a shard still fails after its retries.
    """
    import ray

    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if max_retries < 0:
        raise ValueError(f"max_retries must not be negative, got {max_retries}")
    syms = symbols_list(symbols)
    if not syms:
        raise ValueError("symbols is required")
    project = os.fspath(project)
    driver_bin = _find_fdag(fdag_bin)
    plan = _plan(driver_bin, features, syms, iso_time(start, "start"), iso_time(end, "end"), _go_duration(shard),
                 project, source, aliases, run_id, max_warmup_gap)
    configs: List[Dict[str, Any]] = plan["shards"]
    if not ray.is_initialized():
        ray.init()
    attempts = ray.remote(num_cpus=0)(_Attempts).remote()
    remote = ray.remote(_shard_task).options(
        max_retries=max_retries, retry_exceptions=[ShardFailed], name="fdag-shard", **dict(task_options or {}))

    lease = _Lease(driver_bin, project, plan["run"])
    outcomes: List[Dict[str, Any]] = [{} for _ in configs]
    failed = 0
    pending: Dict[Any, int] = {}
    nxt = 0
    wproject = worker_project or project
    try:
        with progress_bar(progress, total=len(configs), desc=f"fdag run {plan['run']}", unit="shard") as bar:
            while nxt < len(configs) or pending:
                # After a failure no new shard starts: the run will commit nothing.
                while not failed and nxt < len(configs) and len(pending) < concurrency:
                    ref = remote.remote(configs[nxt], wproject, attempts, worker_fdag_bin, shard_timeout)
                    pending[ref] = nxt
                    nxt += 1
                if not pending:
                    break
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i = pending.pop(ref)
                    try:
                        outcomes[i] = ray.get(ref)
                    except Exception as e:  # after Ray's retries
                        failed += 1
                        outcomes[i] = {"error": _cause(e)}
                    bar.update(1)
        counts = ray.get(attempts.counts.remote())
    except BaseException:
        lease.kill()  # a dead lease: the next run or gc removes the staged files
        raise
    finally:
        ray.kill(attempts)
    for i, o in enumerate(outcomes):
        o["retries"] = max(0, counts.get(i, 1) - 1)
        o.pop("node", None)
    never_ran = [i for i, o in enumerate(outcomes) if "result" not in o and "error" not in o]
    for i in never_ran:
        outcomes[i]["error"] = "not started: an earlier shard failed"
    doc = {"plan": plan, "outcomes": outcomes}
    args = ["commit", "--project", project, "--json"] + (["--abort"] if failed else [])
    try:
        summary = RunSummary.from_json(_fdag(driver_bin, args, doc, what="commit"))
    except ShardFailed as e:
        lease.end()
        partial = getattr(e, "document", None)
        summary = RunSummary.from_json(partial) if partial else None
        if failed:
            errors = [o["error"] if o["error"].startswith("shard ") else f"shard {i} {_label(configs[i])}: {o['error']}"
                      for i, o in enumerate(outcomes) if "error" in o and i not in never_ran]
            raise RunFailed(f"run {plan['run']}: {failed} of {len(configs)} shards failed after "
                            f"{max_retries} retries; nothing committed, staged files removed:\n  "
                            + "\n  ".join(errors), summary) from None
        raise RunFailed(f"run {plan['run']}: commit failed: {e.message}", summary) from None
    lease.end()
    return summary


class _Lease:
    """``fdag lease``: the run's lease, held from before the first shard
    stages until after the commit, so that ``fdag gc`` and other runs keep
    the run's staged files while it lives (and remove them once the driver
    died: the lease process dies with it)."""

    def __init__(self, bin_path: str, project: str, run: str) -> None:
        self._log = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen([bin_path, "lease", "--project", project, "--run", run],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                      preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("leased"):
            self._proc.kill()
            self._proc.wait()
            self._log.seek(0)
            raise RuntimeError(f"fdag lease --run {run}: {self._log.read().strip()}")

    def kill(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._log.close()

    def end(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._log.close()


def _go_duration(shard: str) -> str:
    """'1d' -> '24h'; Go durations ('6h', '30m', '90s', '1h30m') pass as they are."""
    s = str(shard).strip()
    if s.endswith("d") and s[:-1].replace(".", "", 1).isdigit():
        return f"{float(s[:-1]) * 24:g}h"
    return s


def _plan(bin_path: str, features: Any, symbols: Sequence[str], start: str, end: str, shard: str, project: str,
          source: Optional[str], aliases: Optional[Mapping[str, str]], run_id: Optional[str],
          max_warmup_gap: Optional[str] = None) -> Dict[str, Any]:
    args = ["plan", "--project", project, "--symbols", ",".join(symbols), "--start", start, "--end", end,
            "--shard", shard]
    if source:
        args += ["--source", source]
    for k, v in (aliases or {}).items():
        args += ["--alias", f"{k}={v}"]
    if run_id:
        args += ["--run-id", run_id]
    if max_warmup_gap:
        args += ["--max-warmup-gap", _go_duration(max_warmup_gap)]
    tmp = None
    if isinstance(features, (str, os.PathLike)) and os.path.isfile(os.fspath(features)):
        args += ["--features", os.fspath(features)]
    else:
        fd, tmp = tempfile.mkstemp(prefix="fdag-features-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(normalize_features(features), f)
        args += ["--features", tmp]
    try:
        proc = subprocess.run([bin_path, *args], capture_output=True, text=True)
    finally:
        if tmp:
            os.unlink(tmp)
    if proc.returncode != 0:
        msg = "\n".join(ln for ln in proc.stderr.strip().splitlines() if " INFO " not in ln)
        raise ValueError(f"fdag plan: {msg}")
    return json.loads(proc.stdout)


def _cause(e: BaseException) -> str:
    """The message of a task's failure: the task's own exception's, or what
    Ray says of a worker that died."""
    cause = getattr(e, "cause", None)  # ray.exceptions.RayTaskError keeps the task's exception
    text = str(cause if cause is not None else e).strip()
    return text[-2000:] or type(e).__name__
