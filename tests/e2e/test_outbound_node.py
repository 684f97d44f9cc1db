"""The gateway's outbound webhook signatures, verified by the Standard Webhooks
npm library (``standardwebhooks``, from ``tests/node``), as a Node.js
receiver would: a delivery signed by one secret, one signed during a rotation
by two (each secret verifies it alone), and tampered ones refused."""

from __future__ import annotations

import json
import subprocess

from gateway.db.models import utcnow
from gateway.outbound.publish import body_of, new_msg_id
from gateway.outbound.signing import headers, new_secret
from tests.e2e.node import require_node_tools


def verify_in_node(cases: list[dict[str, object]]) -> list[bool]:
    node_dir = require_node_tools("verifying webhooks with the npm library")
    done = subprocess.run(
        ["node", "verify-webhook.mjs"],
        cwd=node_dir,
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results: list[bool] = json.loads(done.stdout)
    return results


def test_the_npm_library_verifies_what_the_gateway_signs() -> None:
    now = utcnow()
    old, new = new_secret(), new_secret()
    msg_id = new_msg_id()
    body = body_of("order.placed", {"orderId": "1001", "note": "é ✓"}, now)
    one = headers(msg_id, body, [old], now)
    both = headers(msg_id, body, [new, old], now)
    cases: list[dict[str, object]] = [
        {"secret": old, "body": body, "headers": one},
        {"secret": new, "body": body, "headers": both},
        {"secret": old, "body": body, "headers": both},
        {"secret": new, "body": body, "headers": one},
        {"secret": old, "body": body.replace("1001", "1002"), "headers": one},
        {"secret": old, "body": body, "headers": {**one, "webhook-id": "msg_x"}},
    ]
    assert verify_in_node(cases) == [True, True, True, False, False, False]
