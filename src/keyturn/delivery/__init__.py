"""Background delivery of the outbox (CONTRACT.md 6.4), inside `keyturn serve` or alone as
`keyturn deliver`. It calls the delivery services and nothing of the HTTP layer (import-linter
holds it to that); what it sends through is handed in by the composition root.
"""
