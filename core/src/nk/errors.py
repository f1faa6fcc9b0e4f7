"""Errors nk reports to users.

A :class:`UserError` is a mistake the user can fix (bad config, missing file, wrong column).
The CLI prints it as one paragraph without a traceback and exits with code 2. Anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input: says what was given, where, what is allowed, what to do."""

    exit_code = 2

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        allowed: str | None = None,
        todo: str | None = None,
    ) -> None:
        self.what = what
        self.where = where
        self.allowed = allowed
        self.todo = todo
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [self.what.rstrip(".") + "."]
        if self.where:
            parts.append(f"Where: {self.where.rstrip('.')}.")
        if self.allowed:
            parts.append(f"Allowed: {self.allowed.rstrip('.')}.")
        if self.todo:
            parts.append(f"To fix: {self.todo.rstrip('.')}.")
        return " ".join(parts)


class ContractError(Exception):
    """A component broke the data contract between stages (a plugin bug: keeps its traceback)."""


class PluginError(UserError):
    """A plugin is malformed or conflicts with another (unknown hook, duplicate component name).

    Reported like a user error: the fix is to upgrade, uninstall or block one plugin.
    """


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every value in ``secrets`` replaced by ``***``,
    longest first, so that a secret never reaches a log line or a file."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
