"""Pseudonymous customer labels: a raw SEQ is never printed or published."""

from __future__ import annotations

import hashlib
from collections import Counter


def pseudonym(seq: str, salt: str = "fipro", digits: int = 6) -> str:
    """A stable, non-reversible label for a customer id, e.g. ``고객-3f9a1c``.

    Six hex digits read well but are not unique among hundreds of thousands of customers
    (about 2.7 pairs collide among 10k, 13k among 673k); where a label must identify a
    customer, :func:`unique_labels` lengthens the colliding ones.

    >>> pseudonym("1000001") == pseudonym("1000001")
    True
    """
    digest = hashlib.sha256(f"{salt}:{seq}".encode("utf-8")).hexdigest()[:digits]
    return f"고객-{digest}"


LONG_DIGITS = 12


def unique_labels(seqs) -> list[str]:
    """Pseudonyms for distinct ids, unique among them: the short label, or the 12-digit one for
    ids whose short labels collide (the same customer keeps the short label wherever it is unique)."""
    short = [pseudonym(str(s)) for s in seqs]
    counts = Counter(short)
    return [label if counts[label] == 1 else pseudonym(str(s), digits=LONG_DIGITS) for s, label in zip(seqs, short)]
