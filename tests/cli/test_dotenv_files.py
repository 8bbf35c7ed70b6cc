"""The `.env` files the CLI reads (python-dotenv's parser) and writes (as `vercel env pull`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyturn.cli.dotenv_files import (
    HEADER,
    DotenvError,
    format_pulled_env,
    read_dotenv,
    written_by_a_pull,
)

EDGE_CASES = """\
# a comment line
export EXPORTED=plain
DOUBLE="with spaces and # not a comment"
SINGLE='single $NOT_EXPANDED \\n stays'
INLINE=value # an inline comment
MULTILINE="-----BEGIN KEY-----
line two
-----END KEY-----"
ESCAPED="a\\nb"
EMPTY=
REFERENCE=${EXPORTED}
"""


def test_read_dotenv_handles_quotes_export_comments_and_multiline_values() -> None:
    assert read_dotenv(EDGE_CASES, ".env") == {
        "EXPORTED": "plain",
        "DOUBLE": "with spaces and # not a comment",
        "SINGLE": "single $NOT_EXPANDED \\n stays",
        "INLINE": "value",
        "MULTILINE": "-----BEGIN KEY-----\nline two\n-----END KEY-----",
        "ESCAPED": "a\nb",
        "EMPTY": "",
        # No expansion: a secret is pushed exactly as written.
        "REFERENCE": "${EXPORTED}",
    }


def test_read_dotenv_later_line_wins() -> None:
    assert read_dotenv("A=1\nA=2\n", ".env") == {"A": "2"}


def test_read_dotenv_refuses_a_name_without_value_naming_its_line() -> None:
    with pytest.raises(DotenvError, match=r"\.env line 2: ALONE has no `=`"):
        read_dotenv("A=1\nALONE\n", ".env")


def test_read_dotenv_refuses_an_unparseable_line_without_echoing_it() -> None:
    with pytest.raises(DotenvError) as caught:
        read_dotenv("A=1\nthis is hunter2 not a pair\n", "prod.env")
    assert str(caught.value) == "prod.env line 2: not a NAME=value line"


def test_format_pulled_env_writes_vercel_header_sorted_quoted_and_escaped() -> None:
    text = format_pulled_env({"B": "two\nlines", "A": "one", "C": ""})
    assert text == HEADER + 'A="one"\nB="two\\nlines"\nC=""\n'


def test_pulled_env_reads_back_to_the_same_values() -> None:
    env = {"PEM": "-----BEGIN-----\nabc\r\n-----END-----", "URL": "postgres://u:p@h/db?x=1#y"}
    assert read_dotenv(format_pulled_env(env), "pulled") == env


def test_written_by_a_pull_only_for_files_starting_with_the_header(tmp_path: Path) -> None:
    pulled, mine = tmp_path / "pulled", tmp_path / "mine"
    pulled.write_text(format_pulled_env({"A": "1"}))
    mine.write_text("A=1\n")
    assert written_by_a_pull(pulled)
    assert not written_by_a_pull(mine)
