"""What the automations' tests share: creating automations through the API,
the runs and tasks they left, signed webhook deliveries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from connectors.zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from gateway.automations.tables import AutomationRun
from gateway.db import models
from gateway.relay.ids import decode_global_id
from gateway.runtime.services import Services

Api = Callable[..., Awaitable[dict[str, Any]]]
CREATE = """mutation($n: String!, $t: AutomationTrigger!, $a: [AutomationAction!]!,
  $c: SegmentFilter) { createAutomation(name: $n, trigger: $t, actions: $a,
  conditions: $c) { id name status } }"""
TASK = [{"createTask": {"title": "Call them", "dueInDays": 2}}]


async def create(
    api: Api,
    name: str,
    trigger: dict[str, Any],
    actions: list[dict[str, Any]] | None = None,
    conditions: dict[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    return await api(
        CREATE,
        {
            "n": name,
            "t": trigger,
            "a": TASK if actions is None else actions,
            "c": conditions,
        },
        key=key,
    )


async def created(api: Api, name: str, trigger: dict[str, Any], **kw: Any) -> int:
    answer = await create(api, name, trigger, **kw)
    assert "errors" not in answer, answer
    return decode_global_id(answer["data"]["createAutomation"]["id"])[1]


async def runs(env: Services) -> list[AutomationRun]:
    async with env.sessions() as session:
        found = await session.scalars(select(AutomationRun).order_by(AutomationRun.id))
        return list(found)


async def count(env: Services, model: Any) -> int:
    async with env.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def tasks_of(env: Services, customer_id: int) -> list[models.Task]:
    async with env.sessions() as session:
        found = await session.scalars(
            select(models.Task).where(models.Task.customer_id == customer_id)
        )
        return list(found)


async def customer(
    env: Services, email: str, *, birth: date | None = None, tags: tuple[str, ...] = ()
) -> int:
    async with env.sessions() as session, session.begin():
        row = models.Customer(email=email, birth_date=birth, first_name="Ada")
        session.add(row)
        await session.flush()
        session.add_all(models.Tag(customer_id=row.id, name=t) for t in tags)
        return row.id


async def zendesk_event(
    http: httpx.AsyncClient,
    secret: str,
    event_type: str,
    detail: dict[str, object],
    event: dict[str, object],
) -> httpx.Response:
    """One signed event-envelope delivery, as a Zendesk trigger posts it."""
    now = datetime.now(UTC)
    envelope = {
        "type": f"zen:event-type:{event_type}",
        "account_id": 1,
        "id": str(uuid.uuid4()),
        "time": now.isoformat(),
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{detail['id']}",
        "detail": detail,
        "event": event,
    }
    body = json.dumps(envelope).encode()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, stamp, secret),
        TIMESTAMP_HEADER: stamp,
    }
    return await http.post("/webhooks/zendesk", content=body, headers=headers)
