"""Bulk jobs that run after they were accepted, as Klaviyo's do.

Subscribe and Unsubscribe Profiles answer ``202`` with no body: the job is
queued, and its effect — consent, list membership — shows later. Klaviyo's
API gives these jobs no id to poll; what a client can read is their effect
(Get Profiles with ``additional-fields[profile]=subscriptions``, the list's
profiles). The simulator runs a job once ``delay`` seconds of its clock have
passed, checked at every request and every read of its state, and keeps each
job's status (``queued``, then ``complete``) for tests: ``sim.jobs``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    COMPLETE = "complete"


@dataclass(slots=True)
class Job:
    id: int
    kind: str
    """``bulk-subscribe`` or ``bulk-unsubscribe``."""
    list_id: str | None
    emails: tuple[str, ...]
    accepted_at: float
    work: Callable[[], None] = field(repr=False)
    status: JobStatus = JobStatus.QUEUED
    completed_at: float | None = None


class Jobs:
    def __init__(self, clock: Callable[[], float], delay: float) -> None:
        self.clock = clock
        self.delay = delay
        """Seconds of the clock between a job's acceptance and its run."""
        self.all: list[Job] = []

    def accept(
        self,
        kind: str,
        list_id: str | None,
        emails: tuple[str, ...],
        work: Callable[[], None],
    ) -> Job:
        job = Job(len(self.all) + 1, kind, list_id, emails, self.clock(), work)
        self.all.append(job)
        return job

    def run_due(self, *, everything: bool = False) -> int:
        """Run the queued jobs whose time came (all with ``everything``), in
        the order they were accepted; how many ran."""
        now = self.clock()
        ran = 0
        for job in self.all:
            if job.status is JobStatus.QUEUED and (
                everything or now - job.accepted_at >= self.delay
            ):
                job.work()
                job.status, job.completed_at = JobStatus.COMPLETE, now
                ran += 1
        return ran

    def queued(self) -> list[Job]:
        return [job for job in self.all if job.status is JobStatus.QUEUED]
