"""Account ids (one definition) and compound keys that cannot collide."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from contracts.common import ACCOUNT_ID_MAX, AccountId, compound_key, is_account_id

ACCOUNT = TypeAdapter(AccountId)

#: what identity providers issue as ``sub`` (and our own local names)
ISSUED = [
    "alice",
    "auth0|5f7c8ec7c33c6c004bbafe82",
    "google-oauth2|104352635298437513125",
    "samlp|acme-corp|jo.smith@acme.com",
    "104352635298437513125",  # Google
    "12345678",  # GitHub
    "0b1d6a5e-8f2c-4c3e-9a53-2f0c7b1f9a11",  # Cognito, Keycloak
    "xR2KOQ0dQ7Ogv6Oms2Bv3fVwBpU2",  # Firebase
    "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",  # Entra pairwise
    "-_Ab9",  # base64url may start with '-' or '_'
    "001234.9f8e7d6c5b4a39281706f5e4d3c2b1a0.0123",  # Apple
    "jo+live@example.com",
    "did:plc:z72i7hdynmk6r22z27h6tvur",  # Bluesky
    "a" * ACCOUNT_ID_MAX,
]

REFUSED = [
    "",
    "a\x1fb",  # the issue's input: a control character
    "b\x1fx",
    "a\x00",
    "tab\there",
    "new\nline",
    "with space",
    "slash/y",
    "per%cent",
    "..",
    ".",
    "é",
    "a" * (ACCOUNT_ID_MAX + 1),
]


@pytest.mark.parametrize("sub", ISSUED)
def test_what_identity_providers_issue_is_an_account_id(sub: str) -> None:
    assert is_account_id(sub)
    assert ACCOUNT.validate_python(sub) == sub


@pytest.mark.parametrize("value", REFUSED)
def test_unsafe_ids_are_refused(value: str) -> None:
    assert not is_account_id(value)
    with pytest.raises(ValidationError):
        ACCOUNT.validate_python(value)


@given(st.text(max_size=140))
def test_the_pattern_and_the_function_agree(value: str) -> None:
    try:
        ACCOUNT.validate_python(value)
        valid = True
    except ValidationError:
        valid = False
    assert valid == is_account_id(value)


def test_the_issue_pairs_get_distinct_keys() -> None:
    assert compound_key("a\x1fb", "x") != compound_key("a", "b\x1fx")
    assert compound_key("a:b", "x", sep=":") != compound_key("a", "b:x", sep=":")


def test_valid_ids_keep_the_key_they_had() -> None:
    assert compound_key("ls_1", "auth0|x") == "ls_1\x1fauth0|x"
    assert compound_key("stream_live", "ls_1", "bob", sep=":") == "stream_live:ls_1:bob"


_parts = st.lists(st.text(alphabet=st.sampled_from("ab%\x1f:1F"), max_size=6), min_size=1)


@given(_parts, _parts, st.sampled_from(["\x1f", ":", "|"]))
def test_distinct_tuples_never_share_a_key(a: list[str], b: list[str], sep: str) -> None:
    if a != b:
        assert compound_key(*a, sep=sep) != compound_key(*b, sep=sep)


@given(st.lists(st.text(), min_size=1, max_size=4), st.lists(st.text(), min_size=1, max_size=4))
def test_distinct_tuples_of_any_text_never_share_a_key(a: list[str], b: list[str]) -> None:
    if a != b:
        assert compound_key(*a) != compound_key(*b)


@pytest.mark.parametrize("sep", ["", "%", "ab", "a", "7", "\u2028"])
def test_unusable_separators_are_refused(sep: str) -> None:
    with pytest.raises(ValueError, match="separator"):
        compound_key("x", sep=sep)
    with pytest.raises(ValueError, match="part"):
        compound_key()
