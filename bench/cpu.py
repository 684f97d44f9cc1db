"""CPU seconds a server spent, read from ``/proc``: the process and every
live descendant (uvicorn's or Node cluster's workers), user plus system time.

The benchmark reads it before a load and once the server is idle again after
it (``settled``); the difference over the requests sent is the server's CPU
per request, whatever language it is in — what the requests left to do after
their responses (our audit entries, written a second's worth at a time, cache
stores) counted with them, and not with whatever is measured next.
Linux only: elsewhere ``tree_cpu_seconds`` answers ``nan``. ``MachineTimes``
reads the whole machine's: how busy it was during a load, and how much the
hypervisor took (``bench/peers/rounds.py``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system seconds) of ``pid``, or ``None`` if gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces
    fields = text.rsplit(")", 1)[1].split()
    # utime, stime, and cutime, cstime: its children's that it waited for
    # (fields 14–17), so a worker that exits keeps counting in its parent
    ticks = sum(int(f) for f in fields[11:15])
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    if not PROC.is_dir():
        return math.nan
    parents: dict[int, int] = {}
    seconds: dict[int, float] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat(int(entry.name))
        if found is not None:
            parents[int(entry.name)], seconds[int(entry.name)] = found
    if pid not in seconds:
        return math.nan
    tree = {pid}
    grew = True
    while grew:
        children = {p for p, parent in parents.items() if parent in tree} - tree
        grew = bool(children)
        tree |= children
    return sum(seconds[p] for p in tree)


@dataclass(frozen=True, slots=True)
class MachineTimes:
    """The machine's CPU time so far, every core's, from ``/proc/stat``'s
    ``cpu`` line (in clock ticks)."""

    busy: int
    """Neither idle nor waiting for I/O (stolen time left out)."""
    steal: int
    """Taken by the hypervisor for other guests."""
    total: int

    @classmethod
    def now(cls) -> MachineTimes | None:
        """``None`` where there is no ``/proc/stat``."""
        try:
            line = (PROC / "stat").read_text().splitlines()[0]
        except OSError:
            return None
        ticks = [int(t) for t in line.split()[1:]]
        idle, iowait = ticks[3], ticks[4]
        steal = ticks[7] if len(ticks) > 7 else 0
        total = sum(ticks[:8])
        return cls(total - idle - iowait - steal, steal, total)

    def shares_since(self, earlier: MachineTimes | None) -> tuple[float, float]:
        """(busy, stolen) shares of the machine's time since ``earlier``
        (0–1; ``nan`` without it)."""
        spent = self.total - earlier.total if earlier is not None else 0
        if earlier is None or spent <= 0:
            return math.nan, math.nan
        return (self.busy - earlier.busy) / spent, (self.steal - earlier.steal) / spent


IDLE_SAMPLE = 0.25
"""Seconds between two readings of a server's CPU while waiting for it…"""
IDLE_CPU = 0.02
"""…each interval spending at most this many CPU seconds (two clock ticks)…"""
IDLE_SPAN = 1.25
"""…for this long: longer than our audit log's timer (``AuditLog.interval``,
1 s), which a server waiting on it is idle for."""
SETTLE_LIMIT = 30.0
"""Seconds ``settled`` waits at most."""

log = logging.getLogger("bench")


async def settled(pid: int, *, limit: float = SETTLE_LIMIT) -> float:
    """Once ``pid``'s tree has been idle for ``IDLE_SPAN`` (at most ``limit``
    seconds from now, then with a warning): the CPU seconds it spent
    meanwhile. After a load our gateway still writes its audit entries for
    seconds (on SQLite a warm page of 50 records 50 a request, faster than
    they are written); timing the next measurement then would time that too."""
    start = last = tree_cpu_seconds(pid)
    began = time.monotonic()
    quiet_since = began
    while not math.isnan(last):
        await asyncio.sleep(IDLE_SAMPLE)
        now, at = tree_cpu_seconds(pid), time.monotonic()
        if math.isnan(now):
            break
        if now - last > IDLE_CPU:
            quiet_since = at
        last = now
        if at - quiet_since >= IDLE_SPAN:
            break
        if at - began >= limit:
            log.warning("the server was still busy after %.0f s", limit)
            break
    return last - start


async def cpu_during(pid: int, work: Awaitable[T]) -> tuple[T, float]:
    """``work``'s result, and the CPU seconds ``pid``'s tree spent from its
    start until the tree is idle again after it (``settled``)."""
    before = tree_cpu_seconds(pid)
    result = await work
    await settled(pid)
    return result, tree_cpu_seconds(pid) - before
