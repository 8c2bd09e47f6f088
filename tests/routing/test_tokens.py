"""Context tokens: opaque, HMAC-bound, single use, short-lived; anything else resolves to None."""

from __future__ import annotations

from routing.tokens import ContextTokens

PAYLOAD = {"call_id": "c1", "patient": {"name": "Test Person"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_issued_token_resolves_once_to_its_payload() -> None:
    tokens = ContextTokens()
    token = tokens.issue("c1", PAYLOAD)
    assert tokens.resolve(token) == PAYLOAD


def test_replayed_token_resolves_to_none() -> None:
    tokens = ContextTokens()
    token = tokens.issue("c1", PAYLOAD)
    tokens.resolve(token)
    assert tokens.resolve(token) is None


def test_token_carries_no_phi_and_fits_a_sip_header() -> None:
    token = ContextTokens().issue("call-123", PAYLOAD)
    assert "Test" not in token and "call-123" not in token
    assert len(token) < 100 and all(c.isalnum() or c in "-_." for c in token)


def test_forged_tag_resolves_to_none() -> None:
    tokens = ContextTokens()
    nonce, _, tag = tokens.issue("c1", PAYLOAD).partition(".")
    flipped = ("A" if tag[0] != "A" else "B") + tag[1:]
    assert tokens.resolve(f"{nonce}.{flipped}") is None


def test_token_of_another_server_key_resolves_to_none() -> None:
    ours, theirs = ContextTokens(b"k" * 32), ContextTokens(b"x" * 32)
    assert ours.resolve(theirs.issue("c1", PAYLOAD)) is None


def test_garbage_tokens_resolve_to_none() -> None:
    tokens = ContextTokens()
    for junk in ("", ".", "abc", "é.é", "a" * 5000, "..", "\x00.\x00"):
        assert tokens.resolve(junk) is None


def test_expired_token_resolves_to_none() -> None:
    clock = Clock()
    tokens = ContextTokens(ttl_seconds=30, clock=clock)
    token = tokens.issue("c1", PAYLOAD)
    clock.now += 31
    assert tokens.resolve(token) is None


def test_multi_use_policy_allows_exactly_that_many_reads() -> None:
    tokens = ContextTokens(max_uses=2)
    token = tokens.issue("c1", PAYLOAD)
    assert tokens.resolve(token) == PAYLOAD
    assert tokens.resolve_call(token) == ("c1", PAYLOAD)
    assert tokens.resolve(token) is None


def test_revoking_a_call_kills_its_tokens() -> None:
    tokens = ContextTokens()
    token = tokens.issue("c1", PAYLOAD)
    other = tokens.issue("c2", PAYLOAD)
    tokens.revoke_call("c1")
    assert tokens.resolve(token) is None
    assert tokens.resolve(other) == PAYLOAD
