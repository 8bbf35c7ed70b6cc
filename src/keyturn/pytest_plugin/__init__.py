"""keyturn's pytest plugin: a keyturn emulator for a partner's test suite.

Registered through the `pytest11` entry point, so installing keyturn is enough: a test asks
for the `keyturn` fixture (a clean emulator per test) or `keyturn_server` (the session's, as
it is). It talks HTTP to a keyturn subprocess and imports nothing of the server, so what a
test sees is what a partner's code would see over the wire.
"""

from keyturn.pytest_plugin.server import KeyturnServer, KeyturnServerError

__all__ = ["KeyturnServer", "KeyturnServerError"]
