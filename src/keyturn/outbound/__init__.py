"""Outgoing HTTP calls (the partner API, webhooks) live here.

Only the services and the composition root (`keyturn.app`, `keyturn.cli`) import this package
(import-linter holds it to that); it knows the domain, and nothing of the HTTP routes, storage
or the services, so each outgoing call is a port a service is handed through its context.
"""
