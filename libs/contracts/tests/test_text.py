"""The user-text rule (contracts.text): the named inputs of issue 15 and properties over any
text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.moderation import BanRequest
from contracts.stream import CreateLiveStreamRequest
from contracts.text import TextRefused, clean_text, is_visible, visible_length

BIDI_OPEN = "\u202a\u202b\u202d\u202e\u2066\u2067\u2068"
BIDI_CLOSE = "\u202c\u2069"


def reason_of(text: str, max_chars: int = 500) -> str:
    with pytest.raises(TextRefused) as err:
        clean_text(text, max_chars=max_chars)
    return err.value.reason


class TestNamedInputs:
    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "\u200b",
            "\u200b\u200c\u200d\u2060\ufeff",
            " \u200b \ufeff ",
            "\u2800\u3164",
            "\u202e",
            "\u202e\u202c",
            "\u2066\u2069",
        ],
    )
    def test_nothing_visible_is_empty_like_a_blank_message(self, text: str) -> None:
        assert reason_of(text) == "empty"

    def test_300_e_with_combining_acute_is_300_characters(self) -> None:
        text = "e\u0301" * 300
        cleaned = clean_text(text, max_chars=500)
        assert cleaned == "\u00e9" * 300
        assert visible_length(cleaned) == 300

    def test_the_limit_stays_500_as_users_count(self) -> None:
        assert clean_text("a" * 500, max_chars=500) == "a" * 500
        assert reason_of("a" * 501) == "too_long"
        # one user-visible character each, several code points each
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
        assert visible_length(clean_text(family * 500, max_chars=500)) == 500
        assert visible_length("q\u0301" * 10) == 10  # no precomposed form: still 10
        assert visible_length("\U0001f1eb\U0001f1f7") == 1  # a flag
        assert visible_length("\u845b\U000e0100") == 1  # an ideograph with an IVS

    def test_an_unbalanced_right_to_left_override_is_closed(self) -> None:
        cleaned = clean_text("hello \u202edlrow", max_chars=500)
        assert cleaned == "hello \u202edlrow\u202c"

    def test_closers_go_after_the_trimmed_text(self) -> None:
        assert clean_text(" live \u202e now ", max_chars=500) == "live \u202e now\u202c"
        assert clean_text(" a \u202c", max_chars=500) == "a"

    def test_a_stray_closer_is_dropped(self) -> None:
        assert clean_text("a\u202cb\u2069c", max_chars=500) == "abc"
        # found by the property test: the dropped PDI let A and the grave compose
        assert clean_text("A\u2069\u0300", max_chars=1) == "\u00c0"

    def test_an_isolate_closes_the_embeddings_inside_it(self) -> None:
        assert clean_text("\u2067a\u202bb\u2069c", max_chars=500) == "\u2067a\u202bb\u202c\u2069c"

    def test_balanced_controls_and_marks_are_kept(self) -> None:
        text = "\u2067\u05e9\u05dc\u05d5\u05dd\u2069 ok \u200f"
        assert clean_text(text, max_chars=500) == text.strip()

    @pytest.mark.parametrize("text", ["bell\x07", "line\nbreak", "nul\x00", "lone\ud800"])
    def test_control_characters_are_refused(self, text: str) -> None:
        assert reason_of(text) == "control_characters"

    def test_multiline_allows_line_breaks_and_tabs(self) -> None:
        assert clean_text("a\r\nb\tc", max_chars=10, multiline=True) == "a\nb\tc"

    @pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
    def test_unicode_line_separators_are_line_breaks(self, separator: str) -> None:
        """Found by atk1: ``a<U+2028>b`` was stored as a chat message, a title and a ban
        reason (single-line fields refuse ``\\n``), and kept raw in descriptions."""
        assert reason_of(f"a{separator}b") == "control_characters"
        assert clean_text(f"a{separator}b", max_chars=10, multiline=True) == "a\nb"

    @pytest.mark.parametrize("mark", ["\u0301", "\u0489", "\u20dd"])
    def test_a_tower_of_combining_marks_is_too_long(self, mark: str) -> None:
        """Found by atk1: ``a`` + 9000 combining marks was one character, so accepted (Zalgo
        text). At most 30 in a row (UAX #15 Stream-Safe Text Format)."""
        assert reason_of("a" + mark * 9000) == "too_long"
        assert reason_of("a" + mark * 32) == "too_long"  # NFC may compose the first
        assert visible_length(clean_text("a" + mark * 30, max_chars=1)) == 1
        # real text with several marks per character stays
        vietnamese = "Vi\u1ec7t Nam \u1ee9ng d\u1ee5ng"
        assert clean_text(vietnamese, max_chars=50) == vietnamese
        hindi = "\u0915\u094d\u0937\u093f"  # क्षि
        assert clean_text(hindi * 50, max_chars=500) == hindi * 50


class TestEveryUserTextGoesThroughTheRule:
    def test_stream_title(self) -> None:
        assert CreateLiveStreamRequest(title=" e\u0301 ").title == "\u00e9"
        for bad in ["\u200b\u200d", "x" * 101, "a\x07"]:
            with pytest.raises(ValidationError):
                CreateLiveStreamRequest(title=bad)
        assert CreateLiveStreamRequest(title="t\u202e").title == "t\u202e\u202c"

    def test_stream_description(self) -> None:
        req = CreateLiveStreamRequest(title="t", description="line 1\nline 2\u202e")
        assert req.description == "line 1\nline 2\u202e\u202c"
        assert CreateLiveStreamRequest(title="t", description="\u200b ").description is None
        with pytest.raises(ValidationError):
            CreateLiveStreamRequest(title="t", description="x" * 5001)

    def test_ban_reason(self) -> None:
        assert BanRequest(account_id="a", reason="\ufeff").reason is None
        assert BanRequest(account_id="a", reason="spam\u202e").reason == "spam\u202e\u202c"
        with pytest.raises(ValidationError):
            BanRequest(account_id="a", reason="x\x1b[31m")


class TestProperties:
    @settings(max_examples=400, deadline=None)
    @given(
        st.one_of(
            st.text(max_size=80),
            st.text(alphabet=st.sampled_from(" a\u05d0\u0301\u200b" + BIDI_OPEN + BIDI_CLOSE)),
            st.text(alphabet=st.sampled_from("a\u0301\u0316\u2028"), max_size=200),
        ),
        st.integers(min_value=1, max_value=40),
    )
    def test_accepted_text_is_stable_visible_bounded_and_bidi_closed(
        self, raw: str, max_chars: int
    ) -> None:
        try:
            cleaned = clean_text(raw, max_chars=max_chars)
        except TextRefused as exc:
            refused: TextRefused | None = exc
        else:
            refused = None
        if refused is not None:
            assert refused.reason in {"empty", "too_long", "control_characters"}
            if refused.reason == "empty":
                assert not any(is_visible(ch) for ch in unicodedata.normalize("NFC", raw))
            return
        assert unicodedata.is_normalized("NFC", cleaned)
        assert any(is_visible(ch) for ch in cleaned)
        assert 1 <= visible_length(cleaned) <= max_chars
        assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in cleaned)
        assert cleaned == cleaned.strip()
        assert not any(ch in "\u2028\u2029" for ch in cleaned)
        run = 0
        for ch in cleaned:
            run = run + 1 if unicodedata.combining(ch) else 0
            assert run <= 30
        depth = 0
        for ch in cleaned:
            depth += (ch in BIDI_OPEN) - (ch in BIDI_CLOSE)
            assert depth >= 0
        assert depth == 0
        assert clean_text(cleaned, max_chars=max_chars) == cleaned  # idempotent

    @settings(max_examples=200, deadline=None)
    @given(
        st.text(
            alphabet=st.sampled_from(
                " \t\u200b\u200c\u200d\u2060\ufeff\u202e\u2066\u00a0\u3000\u2800\u3164"
            ),
            max_size=30,
        )
    )
    def test_whitespace_and_format_characters_alone_are_always_empty(self, raw: str) -> None:
        assert reason_of(raw) == "empty"
