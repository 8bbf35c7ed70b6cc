"""What keyturn accepts as text: valid Unicode without the NUL character, decided once.

A string from JSON may hold a lone surrogate (`"\\ud800"`), which no UTF-8 encoder (and so
neither database driver) can write, and NUL, which PostgreSQL's text types refuse. Refusing both
wherever a string enters (body strings and keys at any depth, path and query parameters) means
that anything keyturn accepts can be stored and read back the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

# A lone surrogate is any code point in U+D800..U+DFFF: a Python str holds one only when it
# was never valid UTF-8 (JSON's `\ud800` escape, `surrogateescape` decoding).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can. Never quotes the value."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain the NUL character (U+0000)"
    return "is not valid Unicode text: it contains a lone surrogate (U+D800 to U+DFFF)"
