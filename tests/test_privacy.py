"""Pseudonyms: one label per customer in every output, unique within a quarter."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fipro import privacy
from fipro.privacy import pseudonym, pseudonyms


def test_pseudonym_is_stable_and_hides_the_id():
    label = pseudonym("100023")
    assert label == pseudonym("100023") == pseudonym(" 100023 ") != pseudonym("100024")
    assert "100023" not in label and label.startswith("고객-") and len(label) == len("고객-") + privacy.DIGITS
    # the former six-digit label is its start: a reader who saw 고객-xxxxxx finds the same customer
    assert label[3:9] == hashlib.sha256(b"fipro:100023").hexdigest()[:6]


def test_vectorised_labels_equal_the_single_ones_and_repeat_for_a_repeated_id():
    seqs = ["7", "8", " 7", "9"]
    labels = pseudonyms(seqs)
    assert labels.tolist() == [pseudonym(s) for s in seqs] and labels[0] == labels[2]


def test_no_collision_among_a_full_scale_quarter_of_customers():
    # about 673k customers per quarter at full scale: six digits gave some 13k colliding pairs
    seqs = np.char.add("C", np.arange(700_000).astype(str)).astype(object)
    labels = pseudonyms(seqs)
    assert len(set(labels)) == len(seqs)
    assert len(seqs) - len({label[:9] for label in labels}) > 10_000  # the old six digits would collide


def test_a_collision_is_refused_not_shown(monkeypatch):
    monkeypatch.setattr(privacy, "DIGITS", 2)  # 256 labels for 1,000 customers
    with pytest.raises(ValueError, match="share a pseudonym"):
        pseudonyms([str(i) for i in range(1000)])


def test_a_missing_id_has_no_label():
    with pytest.raises(ValueError, match="missing"):
        pseudonyms(["1", None])
