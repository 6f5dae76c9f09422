"""Pseudonymous customer labels: a raw SEQ is never printed or published."""

from __future__ import annotations

import hashlib


def pseudonym(seq: str, salt: str = "fipro") -> str:
    """A stable, non-reversible label for a customer id, e.g. ``고객-3f9a1c``.

    >>> pseudonym("1000001") == pseudonym("1000001")
    True
    """
    digest = hashlib.sha256(f"{salt}:{seq}".encode("utf-8")).hexdigest()[:6]
    return f"고객-{digest}"
