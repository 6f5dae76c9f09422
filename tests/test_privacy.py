"""Pseudonyms: one label per customer in every output, unique within a quarter, keyed by the
installation's secret (never a public salt) and never joinable to the hand-off's key."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import TEST_SECRET
from fipro import handoff, privacy
from fipro.privacy import pseudonym, pseudonyms

IDS = [str(100_000 + i) for i in range(2_000)]  # enumerable ids, as SEQ values are


def test_pseudonym_is_stable_and_hides_the_id():
    label = pseudonym("100023")
    assert label == pseudonym("100023") == pseudonym(" 100023 ") != pseudonym("100024")
    assert "100023" not in label and label.startswith("고객-") and len(label) == len("고객-") + privacy.DIGITS
    # the tests' secret (conftest), hashed with "label:" into the label salt
    assert privacy.secret(create=False) == TEST_SECRET
    salt = hashlib.sha256(f"label:{TEST_SECRET}".encode()).hexdigest()
    assert label == "고객-" + hashlib.sha256(f"{salt}:100023".encode()).hexdigest()[:16]


def test_labels_cannot_be_reproduced_from_the_ids_with_the_old_public_salt():
    # the attack: hash every enumerable id with the former public salt "fipro" and look the labels up
    labels = set(pseudonyms(IDS))
    guessed = {"고객-" + hashlib.sha256(f"fipro:{s}".encode()).hexdigest()[:n] for s in IDS for n in (6, 16)}
    assert not labels & guessed
    assert not {label[:9] for label in labels} & guessed  # nor the former six-digit labels


def test_two_secrets_give_different_labels(monkeypatch):
    first = pseudonyms(IDS)
    monkeypatch.setenv(privacy.SECRET_VARIABLE, "another-installation")
    second = pseudonyms(IDS)
    assert not set(first) & set(second)
    assert pseudonym(IDS[0]) == second[0] != first[0]
    monkeypatch.setenv(privacy.SECRET_VARIABLE, TEST_SECRET)
    assert pseudonyms(IDS).tolist() == first.tolist()  # deterministic given the secret


def test_a_label_is_not_the_hand_off_key():
    # the same secret keys both, but the labels hash a derived salt: no digest of one is in the other
    keys = handoff.customer_keys(IDS, privacy.secret(create=False))
    labels = pseudonyms(IDS)
    assert not {k[1:1 + privacy.DIGITS] for k in keys} & {label[len("고객-"):] for label in labels}
    assert privacy.label_salt() != privacy.secret(create=False)


def test_the_secret_is_created_once_in_dot_env_under_its_lock(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(privacy.SECRET_VARIABLE, raising=False)
    monkeypatch.setattr(privacy, "env_path", lambda: tmp_path / ".env")
    with pytest.raises(KeyError):
        privacy.secret(create=False)
    label = pseudonym("100023")  # the first label creates the secret
    assert "솔트" in capsys.readouterr().out
    (line,) = (tmp_path / ".env").read_text(encoding="utf-8").splitlines()
    name, _, value = line.partition("=")
    assert name == privacy.SECRET_VARIABLE and len(value) == 32 and (tmp_path / ".env.lock").exists()
    assert privacy.secret() == handoff.key_salt() == value and capsys.readouterr().out == ""  # read back
    assert label == pseudonym("100023", privacy.label_salt(value)) != pseudonym("100023", privacy.label_salt(TEST_SECRET))


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
