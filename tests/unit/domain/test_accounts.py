"""Partner URLs and client secrets (CONTRACT.md 1)."""

from __future__ import annotations

import pytest

from keyturn.domain.accounts import partner_url_problem


@pytest.mark.parametrize(
    "url",
    ["http://localhost:3000", "https://partner.example/api/", "http://[::1]:8080/x?y=1"],
)
def test_absolute_http_urls_are_partner_urls(url: str) -> None:
    assert partner_url_problem(url) is None


@pytest.mark.parametrize(
    "url", ["", "ftp://x.example", "//x.example", "http:///path", "http://x:port", "http://x\n"]
)
def test_other_urls_have_a_problem(url: str) -> None:
    assert partner_url_problem(url) is not None
