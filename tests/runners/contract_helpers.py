"""What the contract test modules share besides fixtures (this folder is on sys.path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WAIT = 30.0  # bound on every wait that could otherwise hang


def caught(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Exception | None:
    """The exception ``fn(*args, **kwargs)`` raises, or None (for use inside flow bodies)."""
    try:
        fn(*args, **kwargs)
    except Exception as error:
        return error
    return None
