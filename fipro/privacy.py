"""Pseudonymous customer labels: a raw SEQ is never printed or published.

One label per customer in every output (notebooks, the site, summaries, the views):
``고객-`` and the first :data:`DIGITS` hex digits of SHA-256(label salt:SEQ). Sixteen digits
(64 bits) make a collision within a quarter negligible (about n²/2⁶⁵: 1e-8 among 700k
customers, where six digits gave some 13k colliding pairs), and :func:`pseudonyms`, which
labels a whole quarter at once (the views do, every quarter), raises on one rather than
show two customers under one label.

The label salt is keyed by the installation's one secret (:func:`secret`:
``$FIPRO_KEY_SALT``, else the git-ignored ``.env``, where it is created on first use), the
secret the DB hand-off's ``CUSTOMER_KEY`` uses too. A public salt would not hide anything:
customer ids are enumerable, so anyone holding the list could hash every id and read each
published label back as the id. The label salt is :func:`label_salt` = SHA-256(``label:`` +
secret), never the secret itself, so a published label cannot be joined to the hand-off's
key (SHA-256(secret:SEQ)) either, and ``.env`` still holds one value.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from fipro import config
from fipro.export import file_lock

SECRET_VARIABLE = "FIPRO_KEY_SALT"
LABEL_DOMAIN = "label:"  # what the label salt hashes before the secret (the hand-off key hashes nothing)
DIGITS = 16
PREFIX = "고객-"


# --- the installation's secret ----------------------------------------------------------

def env_path() -> Path:
    """The git-ignored file that keeps the secret: ``.env`` at the project root."""
    return config.PROJ_ROOT / ".env"


def _secret_in(path: Path) -> Optional[str]:
    if not path.exists():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        if name.strip() == SECRET_VARIABLE and value.strip():
            return value.strip()
    return None


def secret(create: bool = True) -> str:
    """The installation's secret: ``$FIPRO_KEY_SALT``, else ``.env``, else a new one in ``.env``.

    Creating it holds :func:`fipro.export.file_lock` on ``.env`` and looks again inside the
    lock, so notebooks of two quarters started together write one secret, not two. Raises
    ``KeyError`` when there is none and ``create`` is false.
    """
    if os.environ.get(SECRET_VARIABLE):
        return os.environ[SECRET_VARIABLE]
    path = env_path()
    found = _secret_in(path)
    if found is not None:
        return found
    if not create:
        raise KeyError(f"{SECRET_VARIABLE} is not set and {path} has none")
    with file_lock(path):
        found = _secret_in(path)  # another process may have written it while this one waited
        if found is not None:
            return found
        value = secrets.token_hex(16)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{SECRET_VARIABLE}={value}\n")
    print(f"새 비밀 솔트를 {path}에 만들었습니다 ({SECRET_VARIABLE}: DB 전달 파일의 CUSTOMER_KEY와 "
          f"공개 결과의 고객 가명이 이 값으로 만들어집니다). git에는 올라가지 않습니다. "
          f"이 값을 잃으면 모든 CUSTOMER_KEY와 고객 가명이 바뀌니 안전한 곳에 보관하세요.")
    return value


def label_salt(key: Optional[str] = None) -> str:
    """The salt of the published labels, derived from the secret (``key``; ``None``: :func:`secret`).

    >>> label_salt("s") == hashlib.sha256(b"label:s").hexdigest() != label_salt("t")
    True
    """
    key = secret() if key is None else key
    return hashlib.sha256(f"{LABEL_DOMAIN}{key}".encode("utf-8")).hexdigest()


# --- digests and labels -----------------------------------------------------------------

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

    The pseudonyms (:func:`label_salt`) and the hand-off's ``CUSTOMER_KEY`` (the secret itself)
    share it.

    >>> d = hex_digests(["7", " 7", "8"], "s", 6)
    >>> bool(d[0] == d[1] != d[2]), len(d[0])
    (True, 6)
    """
    codes, uniques = _distinct(seqs)
    return _hex(uniques, salt, digits, prefix)[codes]


def pseudonym(seq, salt: Optional[str] = None) -> str:
    """A stable, non-reversible label for one customer id, the same in every output
    (``salt``: the label salt; ``None``: :func:`label_salt` of the installation's secret).

    >>> s = label_salt("doctest-secret")
    >>> pseudonym("1000001", s) == pseudonym(" 1000001", s) != pseudonym("1000002", s)
    True
    >>> len(pseudonym("1000001", s)) == len(PREFIX) + DIGITS
    True
    """
    salt = label_salt() if salt is None else salt
    return _hex(np.array([str(seq).strip()], dtype=object), salt, DIGITS, PREFIX)[0]


def pseudonyms(seqs: Iterable, salt: Optional[str] = None) -> np.ndarray:
    """:func:`pseudonym` of each id, vectorised (each distinct id hashed once).

    Raises ``ValueError`` if two distinct ids share a label, so no output built from these
    labels can show two customers as one (see the module docstring for how rare that is).
    """
    salt = label_salt() if salt is None else salt
    codes, uniques = _distinct(seqs)
    labels = _hex(uniques, salt, DIGITS, PREFIX)
    if len(set(labels)) != len(labels):
        raise ValueError(f"two customers share a pseudonym: raise privacy.DIGITS above {DIGITS}")
    return labels[codes]
