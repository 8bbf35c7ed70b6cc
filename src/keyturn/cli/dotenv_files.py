"""Reading the `.env` files `keyturn secrets push` takes, writing the ones `keyturn env pull` makes.

Reading is python-dotenv's parser (quotes, `export`, comments, multi-line quoted values), with no
`${VAR}` expansion: a secret is pushed exactly as written. A line it cannot parse, or a name with
no `=`, is refused with its line number rather than skipped.

Writing copies `vercel env pull`: the same first line (so either tool overwrites the other's file
without asking), keys sorted, every value in double quotes with newlines written `\\n`.
"""

from __future__ import annotations

import io
from pathlib import Path

from dotenv.parser import parse_stream

# `vercel env pull` overwrites without asking a file that starts with this line, and so do we.
HEADER = "# Created by Vercel CLI\n"


class DotenvError(ValueError):
    """A line of a `.env` file that cannot be pushed; the message names the line, not a value."""


def read_dotenv(text: str, source: str) -> dict[str, str]:
    """Every `NAME=value` of a `.env` text, in order; a later line wins over an earlier one."""
    found: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            raise DotenvError(f"{source} line {line}: not a NAME=value line")
        if binding.key is None:
            continue
        if binding.value is None:
            raise DotenvError(f"{source} line {line}: {binding.key} has no `=` and no value")
        found[binding.key] = binding.value
    return found


def read_dotenv_file(path: Path) -> dict[str, str]:
    return read_dotenv(path.read_text(encoding="utf-8"), str(path))


def format_pulled_env(env: dict[str, str]) -> str:
    """A pulled env as `vercel env pull` writes it."""
    lines = [f'{key}="{_escape(env[key])}"' for key in sorted(env)]
    return HEADER + "\n".join(lines) + "\n"


def written_by_a_pull(path: Path) -> bool:
    """Whether a file is one a pull made (and may be overwritten without asking)."""
    with path.open("rb") as file:
        return file.read(len(HEADER)) == HEADER.encode()


def _escape(value: str) -> str:
    # Exactly vercel's escaping: only line breaks, so that Node's dotenv reads the same value.
    return value.replace("\n", "\\n").replace("\r", "\\r")
