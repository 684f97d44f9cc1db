"""The machine a run happened on, read at run time: figures mean little without it."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    python: str
    os: str
    load: float
    """1-minute load average when the run started: others' work skews figures."""

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("CPU", self.cpu),
            ("cores", str(self.cores)),
            ("memory", f"{self.memory_gib:.1f} GiB"),
            ("Python", self.python),
            ("OS", self.os),
            ("load average at start (1 min)", f"{self.load:.2f}"),
        ]


def describe() -> Machine:
    return Machine(
        cpu=_cpu_model(),
        cores=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 0,
        memory_gib=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        os=platform.platform(),
        load=os.getloadavg()[0],
    )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
