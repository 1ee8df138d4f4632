"""Waiting for child processes (issue 9; being written): the os area's
wait functions, built here so that the subprocess area shares them.

``OS_PATCHES``: (path in the os module, factory) pairs that the os area
defines.
"""

from __future__ import annotations

from typing import Any, Callable

OS_PATCHES: list[tuple[str, Callable[[Any], Any]]] = []
