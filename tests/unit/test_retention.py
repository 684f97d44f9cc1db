"""Retention's settings and table: validated, off at 0, received webhooks'
claims never kept for less than their floor, the mirror never for less than
the activity it shows, the purge scheduled with the app's jobs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.app import BLUEPRINTS
from gateway.mirror.reads import ACTIVITY_DAYS
from gateway.retention import tasks
from gateway.retention.tables import RETAINED, WEBHOOK_CLAIM_FLOOR_DAYS
from gateway.settings import MIRROR_MIN_DAYS, Settings


@pytest.mark.parametrize(
    ("values", "valid"),
    [
        ({"retention_tracked_events_days": 0}, True),
        ({"retention_audit_days": -1}, False),
        ({"retention_webhook_payloads_days": 36_501}, False),
        ({"retention_posthog_events_days": 0}, True),
        ({"retention_posthog_events_days": MIRROR_MIN_DAYS - 1}, False),
        ({"retention_posthog_events_days": MIRROR_MIN_DAYS}, True),
        ({"retention_batch_rows": 0}, False),
    ],
)
def test_retention_settings_are_validated(values: dict[str, int], valid: bool) -> None:
    if valid:
        Settings(**values)  # type: ignore[arg-type]
    else:
        with pytest.raises(ValidationError, match="(?i)retention"):
            Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("webhook_days", "claims_kept"),
    [(0, 0), (1, WEBHOOK_CLAIM_FLOOR_DAYS), (30, 30)],
)
def test_webhook_claims_are_kept_at_least_their_floor(
    webhook_days: int, claims_kept: int
) -> None:
    settings = Settings(retention_webhook_payloads_days=webhook_days)
    kept = {r.name: r.kept_days(settings) for r in RETAINED}
    assert kept["webhook_deliveries"] == claims_kept
    assert kept["outbound_messages"] == webhook_days
    assert WEBHOOK_CLAIM_FLOOR_DAYS * 24 >= 48  # Shopify's longest retries


def test_the_mirror_floor_is_the_activity_window_and_the_purge_is_scheduled() -> None:
    assert MIRROR_MIN_DAYS == ACTIVITY_DAYS
    assert BLUEPRINTS[tasks.NAMESPACE] is tasks.blueprint
    periodic = tasks.blueprint(Settings()).periodic_registry.periodic_tasks
    assert [(t.task.name, t.cron) for t in periodic.values()] == [
        ("purge", tasks.PURGE_CRON)
    ]
