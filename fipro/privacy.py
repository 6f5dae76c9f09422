"""Pseudonymous customer labels: a raw SEQ is never printed or published.

One label per customer in every output (notebooks, the site, summaries, the views):
``고객-`` and the first :data:`DIGITS` hex digits of SHA-256(salt:SEQ). Sixteen digits (64
bits) make a collision within a quarter negligible (about n²/2⁶⁵: 1e-8 among 700k
customers, where six digits gave some 13k colliding pairs), and :func:`pseudonyms`, which
labels a whole quarter at once (the views do, every quarter), raises on one rather than
show two customers under one label. The first six digits are the former short label's.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np
import pandas as pd

SALT = "fipro"
DIGITS = 16
PREFIX = "고객-"


def _distinct(seqs: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct ids): ids as stripped strings, so ``" 7"`` and ``"7"`` are one customer."""
    values = pd.Series(seqs if isinstance(seqs, pd.Series) else list(seqs), dtype="string").str.strip()
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        raise ValueError("a customer id is missing")
    return codes, np.asarray(uniques, dtype=object)


def _hex(uniques: np.ndarray, salt: str, digits: int, prefix: str = "") -> np.ndarray:
    return np.array([prefix + hashlib.sha256(f"{salt}:{s}".encode("utf-8")).hexdigest()[:digits] for s in uniques],
                    dtype=object)


def hex_digests(seqs: Iterable, salt: str, digits: int, prefix: str = "") -> np.ndarray:
    """``prefix`` + the first ``digits`` hex digits of SHA-256(salt:id) per id, each distinct id
    hashed once.

    The pseudonyms (public salt) and the hand-off's ``CUSTOMER_KEY`` (secret salt) share it.

    >>> d = hex_digests(["7", " 7", "8"], "s", 6)
    >>> bool(d[0] == d[1] != d[2]), len(d[0])
    (True, 6)
    """
    codes, uniques = _distinct(seqs)
    return _hex(uniques, salt, digits, prefix)[codes]


def pseudonym(seq, salt: str = SALT) -> str:
    """A stable, non-reversible label for one customer id, the same in every output.

    >>> pseudonym("1000001") == pseudonym(" 1000001") != pseudonym("1000002")
    True
    >>> len(pseudonym("1000001")) == len(PREFIX) + DIGITS
    True
    """
    return _hex(np.array([str(seq).strip()], dtype=object), salt, DIGITS, PREFIX)[0]


def pseudonyms(seqs: Iterable, salt: str = SALT) -> np.ndarray:
    """:func:`pseudonym` of each id, vectorised (each distinct id hashed once).

    Raises ``ValueError`` if two distinct ids share a label, so no output built from these
    labels can show two customers as one (see the module docstring for how rare that is).
    """
    codes, uniques = _distinct(seqs)
    labels = _hex(uniques, salt, DIGITS, PREFIX)
    if len(set(labels)) != len(labels):
        raise ValueError(f"two customers share a pseudonym: raise privacy.DIGITS above {DIGITS}")
    return labels[codes]
