"""What the Voila views read: per-quarter lookup tables built once from the saved outputs.

A view must answer a click in under a second at full scale (673k customers), so it never
loads a whole quarter per click and never retrains. :func:`build_quarter` (``make views``,
after the notebooks) writes under ``outputs/<quarter>/views/``:

* ``customers.parquet``: one row per customer, sorted by pseudonymous label, in row groups
  of ``ROW_GROUP`` rows: label, ``SEQ``, demographics, this and the previous quarter's
  spending by category, the health score and its components, the life-stage
  probabilities, the anomaly score and reason, the segment, the map position, the top
  recommendations, the quarter's notifications (``fipro.notify``, joined by ``CUSTOMER_KEY``). Reading one customer is a predicate on the sorted label column, so
  Parquet's row-group statistics skip all but one group;
* ``peers.parquet``: the mean spending by category of each peer group (age band × sex ×
  life stage), for the customer's comparison chart;
* ``map.parquet``: a seeded sample of at most ``MAP_POINTS`` customers per quarter
  (stratified by segment) with map position, segment, life stage and health tier: the
  segment explorer never sends 673k points to the browser.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fipro import config, contract, datasets, history, split
from fipro.export import write_parquet_atomic
from fipro.peers import PEER_GROUP
from fipro.privacy import pseudonyms

CATEGORIES: tuple[str, ...] = contract.DETAIL_COLUMNS
ROW_GROUP = 8_192
MAP_POINTS = 6_000
PEER_KEYS = PEER_GROUP
N_RECOMMENDATIONS = 3


def views_dir(quarter: str) -> Path:
    return datasets.views_dir(quarter)


def _saved(path: Path, columns=None) -> Optional[pd.DataFrame]:
    return pd.read_parquet(path, columns=columns) if path.exists() else None


def _by_seq(frame: Optional[pd.DataFrame], seq: pd.Index, columns: dict) -> pd.DataFrame:
    """``frame``'s ``columns`` (renamed) aligned to ``seq``; NaN/None where a model did not run."""
    if frame is None:
        return pd.DataFrame({new: pd.Series([None] * len(seq), dtype=object) for new in columns.values()})
    aligned = frame.assign(SEQ=frame["SEQ"].astype(str)).set_index("SEQ").reindex(seq)
    return aligned[list(columns)].rename(columns=columns).reset_index(drop=True)


def _recommendations(quarter: str, seq: pd.Index) -> pd.DataFrame:
    """The top cards (product, expected benefit, reason) and the first non-card product per customer."""
    from fipro.recommend.artifacts import log_path  # model package (~0.15 s): not loaded by the app

    log = _saved(log_path(quarter), ["SEQ", "product_id", "rank", "expected_monthly_benefit_won", "reason", "recommender"])
    if log is None:
        return pd.DataFrame(index=range(len(seq)))
    log = log.assign(SEQ=log["SEQ"].astype(str))
    is_card = (log["recommender"] != "life_stage_rule").to_numpy()
    rank = log["rank"].to_numpy()
    out = {}
    # columns stay Series (Arrow-backed text): .to_numpy() made a Python string of each of the
    # 2.7M reasons at full scale, 2 GB of the views' peak
    for r in range(1, N_RECOMMENDATIONS + 1):
        part = log[is_card & (rank == r)].set_index("SEQ").reindex(seq).reset_index(drop=True)
        out.update({f"rec{r}_product": part["product_id"], f"rec{r}_benefit_won": part["expected_monthly_benefit_won"],
                    f"rec{r}_reason": part["reason"]})
    first = log[~is_card & (rank == 1)].set_index("SEQ").reindex(seq)
    first = first.reset_index(drop=True)
    out.update({"product1": first["product_id"], "product1_reason": first["reason"]})
    return pd.DataFrame(out)


N_NOTIFICATIONS = 3  # fipro.notify.MAX_PER_CUSTOMER (not imported: the app loads this module)


def _notifications(quarter: str, seq: pd.Index) -> pd.DataFrame:
    """The customer's notifications of the quarter (kind and message by rank), joined through the
    hand-off's ``CUSTOMER_KEY`` (the notifications file never holds ``SEQ``); empty columns when
    the drift notebook has not run or the key's salt is unknown."""
    from fipro import handoff  # the hand-off's key (hashlib, pandas): only to build the tables
    notes = _saved(datasets.notifications_path(quarter))
    cols = {f"note{r}_{f}": np.full(len(seq), None, dtype=object) for r in range(1, N_NOTIFICATIONS + 1)
            for f in ("kind", "message")}
    if notes is None or not len(notes):
        return pd.DataFrame(cols)
    try:
        keys = pd.Index(handoff.customer_keys(seq.to_numpy(), handoff.key_salt(create=False)))
    except KeyError:
        return pd.DataFrame(cols)
    for r in range(1, N_NOTIFICATIONS + 1):
        part = notes[notes["rank"] == r].drop_duplicates("CUSTOMER_KEY").set_index("CUSTOMER_KEY").reindex(keys)
        cols[f"note{r}_kind"] = part["kind"].to_numpy(dtype=object)
        cols[f"note{r}_message"] = part["message"].to_numpy(dtype=object)
    return pd.DataFrame(cols)


def build_quarter(quarter: str, seed: Optional[int] = None) -> dict:
    """Write the quarter's view tables from the processed data and the saved model outputs
    (``seed`` of the map sample; ``None``: ``config.RANDOM_SEED``)."""
    # the model packages (~0.1 s each) only to build the tables: the app imports this module without them
    from fipro.anomaly.artifacts import SCORES_FILE as ANOMALY_FILE, model_dir as anomaly_dir
    from fipro.health.artifacts import SCORES_FILE as HEALTH_FILE, model_dir as health_dir  # see above
    from fipro.health.components import COMPONENT_NAMES  # see above
    from fipro.lifestage.artifacts import PREDICTIONS_FILE, model_dir as lifestage_dir  # see above
    from fipro.segments.artifacts import load_assignments  # see above

    cur = datasets.load_quarter(quarter, columns=["SEQ", *PEER_KEYS, "MBR_RK", "TOT_USE_AM", "CRDSL_USE_AM",
                                                  "CNF_USE_AM", *CATEGORIES])
    labels = pseudonyms(cur["SEQ"].astype(str).to_numpy())
    # every part is built in label order, so the table needs no sort (a sort copied all of it:
    # 5.1 GB at full scale with the copy, two quarters side by side passed the 8 GB budget)
    order = np.argsort(labels, kind="stable")
    cur = cur.iloc[order].reset_index(drop=True)
    seq = pd.Index(cur["SEQ"].astype(str).to_numpy())
    frame = pd.DataFrame({"label": labels[order], "SEQ": seq.to_numpy(),
                          **{c: cur[c].astype(str).to_numpy() for c in (*PEER_KEYS, "MBR_RK")},
                          **{c: cur[c].to_numpy(dtype=np.float64) for c in ("TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM",
                                                                             *CATEGORIES)}})
    del cur
    before = history.previous_quarter(quarter, datasets.available_quarters())
    if before is not None:
        # the previous quarter's amounts: the last ones the history state of that quarter holds
        last = history.aligned(history.source(), before, seq, "core",
                               ["last_quarter", *(f"last_{c}" for c in ("TOT_USE_AM", *CATEGORIES))])
        was_there = last["last_quarter"].to_numpy() == before
        for c in ("TOT_USE_AM", *CATEGORIES):
            frame[f"prev_{c}"] = np.where(was_there, last[f"last_{c}"].to_numpy(dtype=np.float64), np.nan)
    health = _saved(health_dir(quarter) / HEALTH_FILE)
    parts = [frame,
             _by_seq(health, seq, {"health_score": "health_score", "tier": "health_tier", "risk_grade": "risk_grade",
                                   "risk_probability": "risk_probability", "reason": "health_reason",
                                   **{c: f"health_{c}" for c in COMPONENT_NAMES}}),
             _by_seq(_saved(anomaly_dir(quarter) / ANOMALY_FILE), seq,
                     {"score": "anomaly_score", "rank": "anomaly_rank", "flagged": "anomaly_flagged",
                      "reason": "anomaly_reason"})]
    preds = _saved(lifestage_dir(quarter) / PREDICTIONS_FILE)
    if preds is not None:
        proba = [c for c in preds.columns if c.startswith("proba_")]
        parts.append(_by_seq(preds, seq, {"predicted": "lifestage_predicted", "probability": "lifestage_probability",
                                          **{c: f"lifestage_{c}" for c in proba}}))
    parts.append(_by_seq(load_assignments(quarter), seq, {"segment": "segment", "soft_segment": "soft_segment",
                                                          "segment_name": "segment_name", "x": "map_x", "y": "map_y"}))
    parts.append(_recommendations(quarter, seq))
    parts.append(_notifications(quarter, seq))
    table = pd.concat(parts, axis=1, copy=False)
    del parts, health, preds
    paths = {"customers": write_parquet_atomic(table, datasets.view_table_path(quarter, "customers"),
                                               row_group_size=ROW_GROUP)}
    peers = frame.groupby(list(PEER_KEYS))[["TOT_USE_AM", *CATEGORIES]].mean().reset_index()
    peers["n"] = frame.groupby(list(PEER_KEYS)).size().to_numpy()
    paths["peers"] = write_parquet_atomic(peers, datasets.view_table_path(quarter, "peers"))
    paths["map"] = write_parquet_atomic(map_sample(table, seed), datasets.view_table_path(quarter, "map"))
    return paths


def map_sample(table: pd.DataFrame, seed: Optional[int] = None, points: int = MAP_POINTS) -> pd.DataFrame:
    """A seeded sample of about ``points`` customers with a map position, stratified by segment.

    Each segment keeps its share (:func:`fipro.split.stratified_positions`, rows ordered
    by the unique pseudonymous ``label``); ``seed`` ``None`` reads ``config.RANDOM_SEED``.
    The input table is not modified.
    """
    have = table[table["map_x"].notna()] if "map_x" in table else table.iloc[0:0]
    if len(have) > points:
        have = have.iloc[split.stratified_positions(have, ["segment_name"], points, seed, key="label")]
    cols = ["label", "map_x", "map_y", "segment", "segment_name", "LIFE_STAGE", "health_tier"]
    return have[[c for c in cols if c in have.columns]].reset_index(drop=True)


# --- lookups (what a click does) ----------------------------------------------------------------


def search_labels(quarter: str, prefix: str, limit: int = 10) -> list[str]:
    """Labels starting with ``prefix`` (sorted), read with a predicate on the sorted label column."""
    prefix = prefix.strip()
    if not prefix:
        return []
    path = datasets.view_table_path(quarter, "customers")
    hi = prefix + "\uffff"
    t = pq.read_table(path, columns=["label"], filters=[("label", ">=", prefix), ("label", "<", hi)])
    return t.column("label").to_pylist()[:limit]


def customer(quarter: str, label: str) -> Optional[pd.Series]:
    """One customer's row by label (``None`` if unknown): one row group read, not the quarter."""
    path = datasets.view_table_path(quarter, "customers")
    t = pq.read_table(path, filters=[("label", "==", label)])
    return t.to_pandas().iloc[0] if t.num_rows else None


def peers(quarter: str, age: str, sex: str, stage: str) -> Optional[pd.Series]:
    p = pd.read_parquet(datasets.view_table_path(quarter, "peers"))
    row = p[(p["AGE"] == age) & (p["SEX_CD"] == sex) & (p["LIFE_STAGE"] == stage)]
    return row.iloc[0] if len(row) else None


def built_quarters() -> list[str]:
    """Quarters whose view tables exist."""
    return [q for q in datasets.available_quarters() if datasets.view_table_path(q, "customers").exists()]


def main(argv=None) -> int:
    """``python -m fipro views [--quarter Q]``: build the views' lookup tables (every quarter by default)."""
    parser = argparse.ArgumentParser(prog="python -m fipro views", description=main.__doc__)
    parser.add_argument("--quarter", default=None)
    args = parser.parse_args(argv)
    quarters = [args.quarter] if args.quarter else datasets.available_quarters()
    for q in quarters:
        start = time.perf_counter()
        paths = build_quarter(q)
        print(f"[views] {q}: {paths['customers']} ({time.perf_counter() - start:.1f}초)")
    return 0
