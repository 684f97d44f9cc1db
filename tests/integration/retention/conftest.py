"""The job engine's tables emptied around a test that runs the purge's job."""

from tests.integration.jobs.conftest import jobs_db

__all__ = ["jobs_db"]
