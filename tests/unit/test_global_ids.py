"""Global ids as clients send them back: padded base64, or without its ``=``
padding (base64url clients strip it); anything else malformed is refused,
whitespace and junk around the base64 too, and any other spelling of the
same bytes."""

from __future__ import annotations

import base64

import pytest
from strawberry.relay import to_base64

from gateway.errors import BadUserInput
from gateway.relay.ids import decode_global_id


@pytest.mark.parametrize("pk", [1, 23, 228, 4567, 2**63 - 1])
def test_an_id_without_its_padding_names_the_same_row(pk: int) -> None:
    padded = to_base64("Customer", pk)
    bare = padded.rstrip("=")
    assert decode_global_id(bare) == decode_global_id(padded) == ("Customer", pk)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "=",
        base64.b64encode(b"Customer:").decode(),
        base64.b64encode(b"Customer:-1").decode().rstrip("="),
        base64.b64encode(b"Customer:007").decode().rstrip("="),
        "not base64 at all!",
        to_base64("Customer", 23) + "\n",  # the decoder skipped these
        " " + to_base64("Customer", 23),
        to_base64("Customer", 23) + "x",
        to_base64("Customer", 23)[:4] + " " + to_base64("Customer", 23)[4:],
        to_base64("Customer", 23).rstrip("=") + "\t",
        # other spellings of the same bytes: padding too much or where none
        # belongs, a last character differing in bits the bytes do not use
        "Q3VzdG9tZXI6MjM==",
        "Q3VzdG9tZXI6MjI4=",
        "Q3VzdG9tZXI6MjN=",
        "Q3VzdG9tZXI6NDU2Nx==",
        "Q3VzdG9tZXI6NDU2Nx",
    ],
)
def test_a_malformed_id_is_refused_padded_or_not(value: str) -> None:
    with pytest.raises(BadUserInput):
        decode_global_id(value)
