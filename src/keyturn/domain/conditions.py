"""Conditional writes (CONTRACT.md 5.5): a resource's ETag and the `If-Match` and
`If-None-Match` preconditions on it.

A resource's entity tag is its secrets version, quoted (`"7"`). Comparison is strong
(RFC 9110 13.1.1): a weak tag (`W/"7"`) never matches, since a write needs the exact version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyturn.domain.errors import BadRequest, FieldError, PreconditionFailed

# One entity tag, optionally weak, and what may separate it from the next (RFC 9110 8.8.3).
_ETAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')


def etag(secrets_version: int) -> str:
    return f'"{secrets_version}"'


@dataclass(frozen=True, slots=True)
class EntityTags:
    """A parsed `If-Match` or `If-None-Match`: `*`, or the strong tags listed (weak ones
    dropped: they never match strongly)."""

    any: bool
    tags: frozenset[str]

    def matches(self, current: str | None) -> bool:
        """Whether the header names `current` (None: there is no resource)."""
        if current is None:
            return False
        return self.any or current in self.tags


def parse_entity_tags(header: str, value: str) -> EntityTags:
    """`*` or a comma-separated list of one or more entity tags; else 400 naming `header`."""
    if value.strip() == "*":
        return EntityTags(any=True, tags=frozenset())
    # RFC 9110 5.6.1: empty list elements are ignored, but one tag at least must be named.
    items = [item for item in value.split(",") if item.strip()]
    found = [_ETAG.fullmatch(item) for item in items]
    if not found or any(tag is None for tag in found):
        message = 'must be "*" or a comma-separated list of quoted versions, such as "3"'
        raise BadRequest(f"{header}: {message}", (FieldError(header, message),))
    strong = {f'"{tag.group(2)}"' for tag in found if tag is not None and tag.group(1) is None}
    return EntityTags(any=False, tags=frozenset(strong))


@dataclass(frozen=True, slots=True)
class Preconditions:
    """The `If-Match` and `If-None-Match` headers of a write, as sent; None when absent.

    They are parsed when checked, so that a malformed one answers its 400 at the point of the
    contract's order where preconditions are checked (after 404), like a failed one its 412.
    """

    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, secrets_version: int | None) -> None:
        """400 for a malformed header, 412 unless the state (None: no such resource) meets
        every condition."""
        current = None if secrets_version is None else etag(secrets_version)
        if self.if_match is not None and not parse_entity_tags("If-Match", self.if_match).matches(
            current
        ):
            raise PreconditionFailed(
                "If-Match: the resource does not exist"
                if secrets_version is None
                else f"If-Match: the resource's current secrets version is {secrets_version}"
            )
        if self.if_none_match is not None:
            tags = parse_entity_tags("If-None-Match", self.if_none_match)
            if tags.matches(current):
                raise PreconditionFailed(
                    "If-None-Match: the resource already exists "
                    f"(its current secrets version is {secrets_version})"
                )


NO_PRECONDITIONS = Preconditions()
