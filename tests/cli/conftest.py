"""Fixtures for the CLI: the live server of tests/live_server.py for the client's commands."""

from tests.live_server import live_server as live_server
