"""CPU seconds a server spent, read from ``/proc``: the process and every
live descendant (uvicorn's or Node cluster's workers), user plus system time.

The benchmark reads it before and after a load; the difference over the
requests sent is the server's CPU per request, whatever language it is in.
Linux only: elsewhere ``tree_cpu_seconds`` answers ``nan``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system seconds) of ``pid``, or ``None`` if gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces
    fields = text.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
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
