"""``python -m diagnostics`` runs the CLI."""

from diagnostics.cli import main

main()
