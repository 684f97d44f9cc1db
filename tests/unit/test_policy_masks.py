"""The masks (``gateway.auth.masks``) ``gateway.auth.policy`` applies for roles that see personal data
masked: what each keeps of a value, on values built to slip something past."""

from __future__ import annotations

import pytest

from gateway.auth.masks import mask_external_id, mask_url

URLS: list[tuple[str, str | None]] = [
    (
        "https://shop.example/account?email=maya@example.com#top",
        "https://shop.example/account",
    ),
    ("https://maya:s3cret@shop.example/account", "https://shop.example/account"),
    ("https://maya%40example.com:s3cret@shop.example/a", "https://shop.example/a"),
    ("https://maya@example.com@shop.example/a", "https://shop.example/a"),
    ("https://:token@shop.example:8443/a", "https://shop.example:8443/a"),
    ("https://shop.example/cart;jsessionid=ABC123?x=1", "https://shop.example/cart"),
    ("https://shop.example/a;v=1/b;email=maya@example.com", "https://shop.example/a/b"),
    ("https://shop.example/a%3Bb/c", "https://shop.example/a%3Bb/c"),
    ("http://u:p@[2001:db8::1]:8080/p;x?q#f", "http://[2001:db8::1]:8080/p"),
    ("http://[fe80::1%25eth0]/p", "http://[fe80::1%25eth0]/p"),
    ("HTTPS://Maya:Pw@Shop.Example/A", "https://Shop.Example/A"),
    ("  https://u:p@shop.example/a", "https://shop.example/a"),
    ("//maya:pw@shop.example/a?b", "//shop.example/a"),
    ("https:\\\\maya:pw@shop.example\\a", "https://shop.example/a"),
    ("https:/maya:pw@shop.example/a", "https://shop.example/a"),
    ("https:///maya:pw@shop.example/a", "https://shop.example/a"),
    ("maya:pw@shop.example/a", "maya:"),
    ("maya@shop.example/a?b", "shop.example/a"),
    ("shop.example/a;s=1?b", "shop.example/a"),
    ("/account;jsessionid=1?token=abc", "/account"),
    ("/u/42/orders", "/u/42/orders"),
    ("mailto:maya@example.com", "mailto:"),
    ("tel:+14155550123", "tel:"),
    ("data:text/plain,maya@example.com", "data:"),
    ("file:///home/maya/x", "file:///home/maya/x"),
    ("?email=maya@example.com", ""),
    ("http://[::1/x", None),
]


@pytest.mark.parametrize(("url", "masked"), URLS)
def test_a_masked_url_keeps_scheme_host_port_and_path_only(
    url: str, masked: str | None
) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("maya@example.com", "m***@example.com"),
        ("+14155550123", "+14******23"),
        ("+1 (415) 555-0123", "+1 ******23"),
        ("gid://shopify/Customer/123", "gid://shopify/Customer/123"),
        ("98123456", "98123456"),
        ("u-123", "u-123"),
    ],
)
def test_a_masked_external_id_hides_an_email_or_phone_only(
    value: str, masked: str
) -> None:
    assert mask_external_id(value) == masked
