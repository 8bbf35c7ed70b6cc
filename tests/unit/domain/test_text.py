"""What keyturn accepts as text (domain/text.py), without a database."""

from __future__ import annotations

import pytest

from keyturn.domain.text import text_problem


@pytest.mark.parametrize(
    "value", ["", "plain", "🔑", "\ufffd", "\uffff", "\U0010ffff", "\x01\x7f\u2028", "é" * 1000]
)
def test_valid_unicode_without_nul_is_storable(value: str) -> None:
    assert text_problem(value) is None


@pytest.mark.parametrize("value", ["\x00", "a\x00", "\x00\ud800"])
def test_nul_is_refused_by_name(value: str) -> None:
    assert text_problem(value) == "must not contain the NUL character (U+0000)"


@pytest.mark.parametrize("code_point", [0xD800, 0xDBFF, 0xDC00, 0xDFFF])
def test_every_lone_surrogate_is_refused(code_point: int) -> None:
    problem = text_problem("ok" + chr(code_point))
    assert problem is not None
    assert "lone surrogate" in problem


def test_the_problem_never_quotes_the_value() -> None:
    problem = text_problem("hunter2\x00")
    assert problem is not None
    assert "hunter2" not in problem
