"""Routers, one module per part of the contract."""
