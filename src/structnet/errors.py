"""User-facing errors.

Every mistake a user can make (a bad path, a bad number, a corrupt file, a run folder of another model) raises a
:class:`UserError` (a ``ValueError``) whose message is one line naming the thing and, where there is one, the fix.
The CLI prints ``structnet: error: <message>`` and exits with status 2; library callers catch ``ValueError``.
"""
from __future__ import annotations

__all__ = ["UserError", "a_or_an"]


class UserError(ValueError):
    """A user error with a one-line message (see the module docstring)."""


def a_or_an(word: str) -> str:
    """The indefinite article for ``word`` in a message: ``an`` before a vowel letter (``an extraction model``),
    else ``a`` (``a pose2d model``)."""
    return "an" if str(word)[:1].lower() in "aeiou" and str(word)[:1] else "a"
