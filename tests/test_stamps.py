"""The stamps of the per-quarter tail of `make all`: the views' and the hand-off's code, the key salt."""

from __future__ import annotations

from fipro import handoff, stamps


def test_the_hand_off_stamp_covers_the_models_it_imports_by_name_and_not_the_site():
    texts = stamps.code_stamps([])
    modules = set(texts["handoff"].splitlines()[1:])
    for spec in handoff.MODEL_SOURCES:  # imported with importlib: invisible to the import graph alone
        assert spec.split(":")[0] in modules
    views = set(texts["views"].splitlines()[1:])
    assert {"fipro.views.data", "fipro.health.artifacts", "fipro.handoff"} <= views
    assert "fipro.site" not in modules | views and "fipro.views.app" not in views


def test_the_salt_stamp_follows_the_salt_and_never_holds_it(monkeypatch):
    monkeypatch.setenv(handoff.SALT_VARIABLE, "first-secret")
    first = stamps.salt_stamp()
    monkeypatch.setenv(handoff.SALT_VARIABLE, "other-secret")
    second = stamps.salt_stamp()
    assert first != second and "secret" not in first + second
    monkeypatch.setenv(handoff.SALT_VARIABLE, "first-secret")
    assert stamps.salt_stamp() == first


def test_stamps_are_written_for_the_views_and_the_hand_off(tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "stamps_dir", lambda: tmp_path)
    monkeypatch.setenv(handoff.SALT_VARIABLE, "a-secret")
    changed = {p.name for p in stamps.write_stamps([])}
    assert {"code-views.txt", "code-handoff.txt", "key-salt.txt"} <= changed
    assert stamps.write_stamps([]) == []  # unchanged: nothing rewritten, times kept


def test_the_selection_key_covers_exactly_the_code_its_stamp_covers():
    # make re-runs the selection when its stamp changes; the selection is made again (and its
    # file rewritten) only when its key changes: the two digests must be one
    from fipro.lifestage import selection

    stamp = stamps.code_stamps([])["lifestage-selection"]
    assert selection._source_digest() == stamp.splitlines()[0]
    assert "fipro.lifestage.selection" in stamp and "fipro.split" in stamp
