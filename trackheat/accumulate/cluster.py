"""The engine of `aggregate`: Dask's distributed scheduler, in-process or an existing cluster.

trackheat does not schedule work itself: `dask.distributed` (the optional
extra `trackheat[dask]`) ships tasks to workers, moves results between them
and survives a lost worker. With no address an in-process `LocalCluster`
sized to the machine runs the job, so one command works on a laptop; with a
scheduler address the same job runs on that cluster (each worker needs
trackheat installed and read access to the inputs).

`map_reduce` maps a function over the inputs and sums the results as a tree
on the workers, adding whichever two results are ready first: the client
receives one result, never one per input.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Sequence

from trackheat.errors import UserError

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before saying it is not there
MISSING = "aggregating needs Dask's distributed scheduler, an optional extra: pip install 'trackheat[dask]'"
Progress = Callable[[int, int], None]  # (inputs done, inputs in all)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UserError(MISSING) from None
    return distributed


def machine_workers() -> int:
    """The cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Engine:
    """A Dask client for one job: on `scheduler` (tcp://HOST:PORT) or on a LocalCluster it starts.

    `workers` sizes the LocalCluster (default: the machine's cores, never more
    than `tasks`); `processes` chooses worker processes (the default: no GIL
    shared between inputs) or threads in this process. Use as a context
    manager: the LocalCluster stops with it; a named cluster is left running.
    """

    def __init__(self, scheduler: str | None = None, *, workers: int | None = None, tasks: int | None = None,
                 processes: bool = True, timeout: float = CONNECT_TIMEOUT) -> None:
        if workers is not None and int(workers) < 1:
            raise UserError(f"expected a number of workers >= 1, got {workers}", param="workers")
        if scheduler is not None and workers is not None:
            raise UserError("`workers` sizes the cluster started here; a named `scheduler` has its own workers")
        self.scheduler = scheduler
        n = int(workers) if workers is not None else machine_workers()
        self.workers = max(1, min(n, int(tasks))) if tasks and workers is None else n
        self.processes = processes
        self.timeout = float(timeout)
        self.client: Any = None
        self._cluster: Any = None
        self._quiet: Any = None

    def __enter__(self) -> "Engine":
        dist = _distributed()
        import logging
        import warnings

        # Dask's notes to cluster operators (a port taken, an event loop slow under load) are not
        # this command's output: its errors come back as exceptions, and stderr stays one line.
        self._quiet = warnings.catch_warnings()
        self._quiet.__enter__()
        warnings.filterwarnings("ignore", module=r"distributed(\.|$)")
        self._log = logging.getLogger("distributed")
        self._log_level = self._log.level
        self._log.setLevel(logging.ERROR)
        try:
            return self._start(dist)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _start(self, dist: Any) -> "Engine":
        import logging

        if self.scheduler is None:
            # On this machine only: worker processes talk over loopback TCP, and the scheduler's
            # HTTP endpoint (it always starts one) takes any free loopback port, with no dashboard.
            where = {"host": "127.0.0.1"} if self.processes else {}
            self._cluster = dist.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=self.processes,
                                              dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                                              silence_logs=logging.CRITICAL, **where)  # (the workers' own stderr is ours)
            self.client = dist.Client(self._cluster, set_as_default=False)
            return self
        address = self.scheduler if "://" in self.scheduler else f"tcp://{self.scheduler}"
        try:
            self.client = dist.Client(address, timeout=self.timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UserError(f"no Dask scheduler answered at {address} within {self.timeout:g} s ({reason})", param="scheduler") from None
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.client is not None:
                self.client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            self.client = self._cluster = None
            if self._quiet is not None:
                self._log.setLevel(self._log_level)
                self._quiet.__exit__(None, None, None)
                self._quiet = None

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {})) if self.client is not None else 0

    def map(self, fn: Callable, items: Sequence, arg: Any) -> list:
        """fn(item, arg) for every item, on the workers; the results in order. `arg` is sent
        to the workers once, not with every task."""
        shared = self.client.scatter(arg, broadcast=True, hash=False)
        futures = self.client.map(fn, list(items), [shared] * len(items), pure=False)
        try:
            return self.client.gather(futures)
        finally:
            for f in futures:
                f.release()
            shared.release()

    def map_reduce(self, fn: Callable, items: Sequence, arg: Any, reduce: Callable[[Any, Any, Any], Any],
                   progress: Progress | None = None, sizes: Sequence[int] | None = None) -> Any:
        """reduce(..., arg) of fn(item, arg) over the items: a tree of reduces on the workers, one result back.

        Two results are added as soon as both exist (as_completed), so adding
        overlaps counting and a worker holds a few grids, not one per item.
        `progress` is told the items done, counted by `sizes` (an item that
        is a batch of inputs counts as its inputs).
        """
        dist = _distributed()
        if not items:
            raise ValueError("map_reduce of no items")
        sizes = list(sizes) if sizes is not None else [1] * len(items)
        shared = self.client.scatter(arg, broadcast=True, hash=False)
        # No list of the map futures is kept: a result held by the client stays in a worker's
        # memory, and each one should be freed as soon as it has been added.
        ac = dist.as_completed(loop=self.client.loop)  # (this client's loop: it is not the global default)
        weight = {}
        for item, size in zip(items, sizes):
            f = self.client.submit(fn, item, shared, pure=False)
            weight[f.key] = size
            ac.add(f)
        done, whole = 0, sum(sizes)
        ready: Any = None
        try:
            for fut in ac:
                if fut.key in weight:
                    done += weight[fut.key]
                    if progress is not None:
                        progress(done, whole)
                if fut.status == "error":
                    fut.result()  # raises the task's own exception here, with its traceback
                if ready is None:
                    ready = fut
                else:
                    ac.add(self.client.submit(reduce, ready, fut, shared, pure=False))
                    ready = None
            return ready.result()
        finally:
            shared.release()


def batches(items: Sequence, sizes: Sequence[float], *, workers: int, per_worker: int = 4, most: float) -> list[list]:
    """The items cut into consecutive batches, one task each: about `per_worker` per worker (so a
    slow worker is not waited for at the end), more when a batch would exceed `most` (by `sizes`).

    Dask's scheduler spends about a millisecond per task whatever it does, and
    every task result is shipped and added: 10,000 inputs of a few ms each
    would cost more in tasks than in counting.
    """
    n = len(items)
    if n == 0:
        return []
    whole = float(sum(sizes))
    k = max(1, min(n, max(int(workers) * per_worker, math.ceil(whole / most) if most > 0 else n)))
    out: list[list] = []
    cur: list = []
    acc = 0.0
    for i, (item, size) in enumerate(zip(items, sizes)):
        cur.append(item)
        acc += size
        # Close the batch once the running total reaches the next k-th of the whole, or when the
        # items left are just enough for one batch each of those still to come.
        if len(out) < k - 1 and (acc >= whole * (len(out) + 1) / k or n - i - 1 <= k - len(out) - 1):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out
