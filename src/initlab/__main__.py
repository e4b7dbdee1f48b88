"""``python -m initlab`` runs the command line."""

from .cli import entry

entry()
