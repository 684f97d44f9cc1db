"""Failing operations leave log lines with ids, classes and codes — never the
document, a variable's value, SQL or its parameters (here: an email)."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gateway.errors import format_error
from gateway.runtime.services import Services
from tests.conftest import GraphQL

EMAIL = "maya.private@example.com"
CREATE = "mutation($e: String!) { createCustomer(input: {email: $e}) { id } }"


def assert_clean(log: str) -> None:
    assert EMAIL not in log
    for leak in ("INSERT", "SELECT", "createCustomer(input", "Traceback"):
        assert leak not in log, leak


async def test_a_conflict_from_the_database_logs_no_email_or_sql(
    gql: GraphQL, caplog: pytest.LogCaptureFixture
) -> None:
    await gql(CREATE, {"e": EMAIL})
    with caplog.at_level(logging.DEBUG):
        again = await gql(CREATE, {"e": EMAIL})
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert_clean(caplog.text)


async def test_a_mistyped_variable_holding_an_email_is_not_logged(
    gql: GraphQL, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = await gql(
            "query($n: Int) { customers(first: $n) { edges { cursor } } }", {"n": EMAIL}
        )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert_clean(caplog.text)


async def test_an_unexpected_database_error_is_logged_by_request_id_and_class(
    db: Services, caplog: pytest.LogCaptureFixture
) -> None:
    insert = text(
        "INSERT INTO customers (id, email, created_at, updated_at)"
        " VALUES (1, :e, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    async with db.sessions() as session:
        await session.execute(insert, {"e": EMAIL})
        with pytest.raises(IntegrityError) as raised:
            await session.execute(insert, {"e": EMAIL})
    assert EMAIL in str(raised.value)  # what SQLAlchemy would have put in the log
    with caplog.at_level(logging.DEBUG):
        formatted = format_error(
            GraphQLError("boom", path=["customer"], original_error=raised.value)
        )
    request_id = formatted.extensions["requestId"]
    assert f"unexpected error {request_id} at ['customer']" in caplog.text
    assert "IntegrityError" in caplog.text
    assert_clean(caplog.text)
