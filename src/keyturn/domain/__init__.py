"""Pure rules of keyturn: no I/O, no frameworks, only the standard library."""
