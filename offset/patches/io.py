"""Patches for the io area (issue 9; being written)."""

from __future__ import annotations

from . import _registry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = "io"


def patch() -> None:
    """Patch the io area."""
    _registry.patch_area(AREA)


def unpatch() -> None:
    """Restore the io area's originals."""
    _registry.unpatch_area(AREA)


def is_patched() -> bool:
    """Whether the io area is patched."""
    return _registry.is_enabled(AREA)
