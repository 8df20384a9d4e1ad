"""The Lua scripts of the task-run protocol, loaded from the ``.lua`` files beside this module."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

NAMES = ("submit", "complete", "promote", "reclaim")


@cache
def source(name: str) -> str:
    return (resources.files("floq.store") / "scripts" / f"{name}.lua").read_text()


class Scripts:
    """The registered scripts of one client: ``scripts.complete(keys=[...], args=[...])``."""

    def __init__(self, client: Any) -> None:
        for name in NAMES:
            setattr(self, name, client.register_script(source(name)))

    submit: Any
    complete: Any
    promote: Any
    reclaim: Any
