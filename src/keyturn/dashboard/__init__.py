"""The owners' web dashboard at `/dashboard`: server-rendered pages over the services.

Jinja2 renders every page on the server; htmx (vendored under `static/`, no CDN, no build
step) swaps the parts that change. The package calls services only, never storage or the
HTTP API's routes (an import-linter contract in pyproject.toml says so); the composition root
mounts it with `install_dashboard`.
"""
