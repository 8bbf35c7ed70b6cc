"""`python -m keyturn.cli` runs the same commands as the `keyturn` script."""

from keyturn.cli.main import main

main()
