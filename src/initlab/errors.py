"""Domain exceptions.

Every error a user can cause is an :class:`InitlabError`; the CLI turns it into one line on
stderr and exit code 2. Anything else escaping the engine is a bug (exit code 1).
"""

from __future__ import annotations

import difflib
from typing import Iterable


class InitlabError(Exception):
    """A usage or configuration error: the user can fix it by changing the input."""


class ConfigError(InitlabError):
    """A configuration value is wrong.

    ``field`` is the dotted path of the offending key (``network.activation``), ``line`` the
    YAML line number when known. The message is one line: field, problem, valid choices.
    """

    def __init__(self, field: str | None, message: str, line: int | None = None):
        self.field = field
        self.line = line
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.field:
            where = self.field
            if self.line is not None:
                where += f" (line {self.line})"
            where += ": "
        return where + self.detail

    def at(self, field: str | None = None, line: int | None = None) -> "ConfigError":
        """A copy placed at ``field`` (prefixing nothing: the full dotted path) and ``line``."""
        return ConfigError(field if field is not None else self.field, self.detail,
                           line if line is not None else self.line)


def suggest(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(kind: str, name: object, choices: Iterable[str], field: str | None = None) -> ConfigError:
    """The error for a name that is not in a registry or a set of choices."""
    choices = sorted(choices)
    return ConfigError(
        field,
        f"unknown {kind} '{name}'{suggest(str(name), choices)}; valid: {', '.join(choices)}",
    )


def lookup(registry: dict, name: str, kind: str, field: str | None = None):
    """``registry[name]`` or a :class:`ConfigError` naming the valid keys and a close match."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise unknown(kind, name, registry, field) from None
