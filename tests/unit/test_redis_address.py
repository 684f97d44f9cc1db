"""``CG_REDIS_URL``'s forms (``gateway.redis_address``), and the one line a
malformed one is refused with at start — which never repeats the URL."""

from __future__ import annotations

import pytest

from gateway.redis_address import RedisAddress, parse_redis_url
from gateway.settings import InvalidSettings, Settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis://127.0.0.1:6379/0",
            RedisAddress("single", "redis://127.0.0.1:6379/0"),
        ),
        ("unix:///run/redis.sock", RedisAddress("single", "unix:///run/redis.sock")),
        (
            "redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002/",
            RedisAddress(
                "cluster",
                "redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002/",
                (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)),
            ),
        ),
        (
            "rediss+sentinel://app:p%40ss@s1,s2:26380/main/2",
            RedisAddress(
                "sentinel",
                "rediss+sentinel://app:p%40ss@s1,s2:26380/main/2",
                (("s1", 26379), ("s2", 26380)),
                service="main",
                db=2,
                username="app",
                password="p@ss",
                tls=True,
            ),
        ),
    ],
)
def test_each_form_names_its_nodes_service_and_credentials(
    url: str, expected: RedisAddress
) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://cache:6379", "must start with one of"),
        ("redis://cache:port/0", "a port must be"),
        ("redis+cluster://a:7000,,b:7001/", "every node needs a host"),
        ("redis+cluster://a:99999/", "a port must be between"),
        ("redis+cluster://a:7000/3", "a cluster has one database"),
        ("redis+cluster://a:7000/?timeout=1", "takes no query string"),
        ("redis+sentinel://s1:26379/", "names the service"),
        ("redis+sentinel://s1:26379/main/two", "the database must be a number"),
    ],
)
def test_a_malformed_url_is_refused_at_start_in_one_line_without_the_url(
    url: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_url = url.replace("://", "://:hunter2-secret@", 1)
    monkeypatch.setenv("CG_REDIS_URL", secret_url)
    with pytest.raises(InvalidSettings) as refused:
        Settings.read()
    message = refused.value.message
    assert message.startswith("Invalid settings: CG_REDIS_URL: "), message
    assert problem in message
    assert "\n" not in message
    assert "hunter2" not in message
    assert "cache" not in message
