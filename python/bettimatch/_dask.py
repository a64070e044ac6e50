"""`evaluate` on a Dask cluster (the optional extra ``bettimatch[dask]``).

Each case is one task: the worker reads the two files itself (paths on a shared file system, so
no volume travels through the client), computes all classes in one native call and sends back
the rows. Dask retries a task that raises and reschedules the tasks of a worker that died; a
case that still fails comes back as a result with its error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from .evaluation import CaseFailed, CaseResult, Options, Pair, describe, run_case

INSTALL_HINT = "pip install 'bettimatch[dask]'"
MAX_LOCAL_WORKERS = 1024


class SchedulerError(Exception):
    """The cluster asked for cannot be reached or started; the message says why."""


def require_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"running on a Dask cluster needs dask.distributed ({exc}): {INSTALL_HINT}") from None
    return distributed


def local_workers(scheduler: str) -> Optional[int]:
    """The number of worker processes that ``local`` / ``local:N`` asks for; None for an address."""
    if scheduler == "local":
        return os.cpu_count() or 1
    if not scheduler.startswith("local:"):
        return None
    text = scheduler[len("local:"):]
    if not text.isdigit() or not 1 <= int(text) <= MAX_LOCAL_WORKERS:
        raise SchedulerError(f"'{scheduler}': expected local:N with N a number of worker processes from 1 to {MAX_LOCAL_WORKERS}")
    return int(text)


@contextlib.contextmanager
def connect(scheduler: Optional[str] = None, scheduler_file: Optional[Path] = None) -> Iterator[Any]:
    """A ``distributed.Client`` of the running scheduler at `scheduler` (an address such as
    ``tcp://host:8786``) or described by `scheduler_file`, or of a LocalCluster of N worker
    processes on 127.0.0.1 for ``local[:N]``; everything it started is stopped on leaving."""
    if (scheduler is None) == (scheduler_file is None):
        raise ValueError("give exactly one of scheduler and scheduler_file")
    workers = local_workers(scheduler) if scheduler is not None else None
    distributed = require_distributed()
    cluster = client = None
    try:
        if workers is not None:
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=max(1, (os.cpu_count() or 1) // workers), processes=True,
                host="127.0.0.1", dashboard_address=":0",  # a free port: never one a cluster of the user holds
                # Task failures reach the client through their futures; worker logs would only
                # repeat them (and Dask's shutdown races) on the terminal.
                silence_logs=logging.CRITICAL, preload=["bettimatch._dask_worker"],
            )
            client = _client(lambda: distributed.Client(cluster, set_as_default=False))
        elif scheduler_file is not None:
            if not Path(scheduler_file).is_file():  # the client would wait for it to appear
                raise SchedulerError(f"{scheduler_file}: no such file")
            client = _client(lambda: distributed.Client(scheduler_file=str(scheduler_file), set_as_default=False))
        else:
            client = _client(lambda: distributed.Client(scheduler, set_as_default=False))
    except SchedulerError:
        raise
    except (OSError, TimeoutError, ValueError, TypeError, AssertionError) as exc:
        where = f"local:{workers}" if workers is not None else (scheduler or str(scheduler_file))
        raise SchedulerError(f"{where}: cannot connect to the Dask scheduler ({describe(exc)})") from None
    finally:
        if client is None and cluster is not None:
            cluster.close()
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


_CONNECT_TRIES = 3


def _client(make: Callable[[], Any]) -> Any:
    """``make()``, tried again when distributed's handshake trips its own ``assert len(msg) == 1``
    (``Client._ensure_connected``: a reply that arrives batched with another message while a
    second client of the same scheduler connects, seen once in CI); connecting again is harmless."""
    for attempt in range(_CONNECT_TRIES):
        try:
            return make()
        except AssertionError:
            if attempt == _CONNECT_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def _failure(exc: BaseException, retries: int) -> str:
    if isinstance(exc, CaseFailed):
        return f"{exc} ({1 + retries} tries)"
    return f"the task failed on the cluster ({describe(exc)})"


def evaluate_on_cluster(client: Any, pairs: Sequence[Pair], options: Options, retries: int) -> Iterator[CaseResult]:
    """One result per pair, as the cases finish on the cluster of `client` (one task each).

    A case's native call uses ``options.num_threads`` threads, 1 when unset: Dask runs as many
    tasks at once as its workers have threads."""
    distributed = require_distributed()
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if options.num_threads is None:
        options = replace(options, num_threads=1)
    pairs = list(pairs)
    if not pairs:
        return
    token = f"bettimatch-evaluate-{uuid.uuid4().hex[:8]}"
    keys = [f"{token}-{i}" for i in range(len(pairs))]
    futures = client.map(
        run_case,
        [case for case, _, _ in pairs],
        [os.path.abspath(pred) for _, pred, _ in pairs],
        [os.path.abspath(gt) for _, _, gt in pairs],
        options=options, key=keys, retries=retries, pure=False,
    )
    case_of = {f.key: case for f, (case, _, _) in zip(futures, pairs)}
    # with_results: the client's event loop gathers each result as its task ends, so the loop here
    # never waits on a round trip per case.
    finished = distributed.as_completed(futures, loop=client.loop, with_results=True, raise_errors=False)
    try:
        for future, value in finished:
            if future.status == "finished" and isinstance(value, CaseResult):
                result = value
            else:  # every failure of one case is that case's error: (type, exception, traceback) or a cancellation
                error = value[1] if isinstance(value, tuple) else value
                result = CaseResult(case_of[future.key], error=_failure(error, retries))
            future.release()
            yield result
    finally:
        # Also when the caller stops early (a bad case, Ctrl-C): nothing is left running.
        client.cancel([f for f in futures if not f.done()])
