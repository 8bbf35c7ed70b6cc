"""`keyturn serve --seed FILE`: a fixture file (JSON, or YAML) read as the seed route reads
its body, so a file and a `POST /v1/admin/seed` are refused for the same reasons.

YAML is turned into JSON first and parsed like a request body: a YAML value that JSON has no
word for (a date, say) is refused rather than guessed at.
"""

from __future__ import annotations

import json
from pathlib import Path

from keyturn.http.body import parse_body
from keyturn.http.wire_seed import SeedIn
from keyturn.services.seed import Fixture

JSON_SUFFIXES = (".json",)


def seed_fixture_from_file(path: Path) -> Fixture:
    """The file's fixture; ValueError when it is not JSON or YAML, BadRequest (a
    `KeyturnError`) or a rule's refusal when it breaks one."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in JSON_SUFFIXES:
        body = text.encode()
    else:
        # Imported for a YAML fixture only: `keyturn serve` without one never needs it.
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"not YAML: {exc}") from None
        try:
            body = json.dumps(data, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a value has no JSON equivalent ({exc})") from None
    return parse_body(SeedIn, body).to_fixture()
