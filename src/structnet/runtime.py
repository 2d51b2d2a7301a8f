"""Process settings every command shares: how many threads to use and whether to show progress bars.

Threads: with other processes busy on the machine, OpenMP threads that wait for a taken core spin instead of
working (``predict pose2d`` on 5 images took 37 s with the default thread count and 2.6 s with one thread next to
a busy neighbour). :func:`free_cores` measures how many cores are idle right now (two samples of ``/proc/stat``
50 ms apart; the load average where that file does not exist) and :func:`set_threads` gives torch and OpenCV that
many threads unless the user says otherwise (``--threads N`` or ``STRUCTNET_THREADS``, at most :func:`max_threads`).

Progress: :func:`progress` wraps a loop over images in a tqdm bar on stderr, shown only when stderr is a terminal
and ``quiet`` is off, so logs and pipes stay clean.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Iterable, List, Optional, TypeVar

from .errors import UserError

__all__ = ["available_cores", "max_threads", "free_cores", "set_threads", "progress"]

T = TypeVar("T")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_threads() -> int:
    """The most threads :func:`set_threads` accepts: 4 x the machine's cores (more only slows down, and tens of
    thousands of threads crash the process)."""
    return 4 * max(1, os.cpu_count() or 1)


def _cpu_times() -> Optional[List[List[int]]]:
    """Per-core (busy, total) jiffies from /proc/stat, or None where it does not exist."""
    try:
        with open("/proc/stat") as f:
            lines = [l.split() for l in f if l.startswith("cpu") and not l.startswith("cpu ")]
    except OSError:
        return None
    out = []
    for parts in lines:
        vals = [int(v) for v in parts[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        out.append([sum(vals) - idle, sum(vals)])
    return out or None


def free_cores(interval: float = 0.05) -> int:
    """How many of this process's cores are idle now (at least 1).

    Counts the idle share of every core over ``interval`` seconds (``/proc/stat``), restricted to the cores the
    process may use; elsewhere ``cores - load average`` (1 minute)."""
    n = available_cores()
    a = _cpu_times()
    if a is not None:
        time.sleep(interval)
        b = _cpu_times()
        if b is not None and len(b) == len(a):
            try:
                allowed = sorted(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                allowed = list(range(len(a)))
            idle = 0.0
            for i in allowed:
                if i < len(a):
                    busy, total = b[i][0] - a[i][0], b[i][1] - a[i][1]
                    idle += 1.0 - (busy / total if total > 0 else 0.0)
            return max(1, min(n, int(idle + 0.5)))
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return n
    return max(1, min(n, int(round(n - load))))


def set_threads(threads: Optional[int] = None) -> int:
    """Set torch's (and OpenCV's) thread count and return it.

    ``threads``: a positive number wins; ``None`` (or 0) means ``$STRUCTNET_THREADS`` if set, else
    :func:`free_cores`. More than :func:`max_threads` is a UserError. Interop threads are left alone (torch allows
    setting them once per process)."""
    source = "--threads"
    if threads is None or threads == 0:
        env = os.environ.get("STRUCTNET_THREADS", "").strip()
        if env:
            try:
                threads = int(env)
            except ValueError:
                raise UserError(f"STRUCTNET_THREADS must be a positive integer, got {env!r}") from None
            if threads < 1:
                raise UserError(f"STRUCTNET_THREADS must be a positive integer, got {env!r}")
            source = "STRUCTNET_THREADS"
        else:
            threads = free_cores()
    threads = int(threads)
    if threads < 1:
        raise UserError(f"--threads must be a positive integer, got {threads}")
    if threads > max_threads():
        raise UserError(f"{source} must be at most {max_threads()} (4 x the cores of this machine), got {threads}")
    import torch

    torch.set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:  # pragma: no cover - OpenCV is a dependency
        pass
    return threads


def progress(items: Iterable[T], total: Optional[int] = None, desc: str = "", quiet: bool = False) -> Iterable[T]:
    """``items`` wrapped in a tqdm bar on stderr when stderr is a terminal and not ``quiet``; else ``items``."""
    if quiet or not getattr(sys.stderr, "isatty", lambda: False)():
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)
