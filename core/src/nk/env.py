"""Environment variables nk reads: one parser for on/off flags."""

from __future__ import annotations

import os

from nk.errors import UserError

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def env_flag(name: str, default: bool = False) -> bool:
    """Whether the environment variable ``name`` is switched on.

    ``1``/``true``/``yes``/``on`` mean on, ``0``/``false``/``no``/``off`` or empty mean off
    (case and surrounding spaces do not matter); an unset variable is ``default``. Anything
    else is a :class:`UserError` naming the variable, never a silent guess.
    """
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UserError(
        f"The environment variable {name} has the value {raw!r}, which is neither on nor off",
        where=f"environment variable {name}",
        allowed="on: " + ", ".join(TRUE_WORDS) + "; off: " + ", ".join(w or "empty" for w in FALSE_WORDS),
        todo=f"set {name}=1 or {name}=0, or unset it",
    )
