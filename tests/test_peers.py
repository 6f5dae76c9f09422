"""fipro.peers: the declared peer groupings and the one peer-group code."""

import numpy as np
import pandas as pd
import pytest

from fipro import peers
from fipro.anomaly import data as anomaly_data
from fipro.health import data as health_data
from fipro.segments import data as segments_data
from fipro.views import data as views_data


def _frame():
    return pd.DataFrame({"AGE": ["30", "20", "30", "30", "20"], "SEX_CD": ["1", "2", "2", "1", "2"],
                         "LIFE_STAGE": ["NEW_WED", "UNI", "NEW_WED", "NEW_WED", "UNI"], "x": [1, 2, 3, 4, 5]})


def test_every_model_reads_the_one_declaration():
    assert peers.PEER_GROUP == ("AGE", "SEX_CD", "LIFE_STAGE")
    assert peers.STAGE_AGE_GROUP == ("LIFE_STAGE", "AGE")
    assert segments_data.PEER_COLUMNS is peers.PEER_GROUP and views_data.PEER_KEYS is peers.PEER_GROUP
    assert anomaly_data.PEER_COLUMNS is peers.STAGE_AGE_GROUP and health_data.PEER_COLUMNS is peers.STAGE_AGE_GROUP


def test_codes_are_dense_in_the_sorted_order_of_the_values():
    f = _frame()
    # (AGE, SEX_CD, LIFE_STAGE) sorted: (20,2,UNI)=0, (30,1,NEW_WED)=1, (30,2,NEW_WED)=2
    np.testing.assert_array_equal(peers.peer_group_codes(f), [1, 0, 2, 1, 0])
    # (LIFE_STAGE, AGE): (NEW_WED,30)=0, (UNI,20)=1
    np.testing.assert_array_equal(peers.peer_group_codes(f, peers.STAGE_AGE_GROUP), [0, 1, 0, 0, 1])


def test_codes_ignore_row_order_and_dtype_and_keep_the_frame():
    f = _frame()
    before = f.copy()
    codes = peers.peer_group_codes(f)
    shuffled = f.iloc[[4, 2, 0, 3, 1]]
    np.testing.assert_array_equal(peers.peer_group_codes(shuffled), codes[[4, 2, 0, 3, 1]])
    categorical = f.astype({c: "category" for c in peers.PEER_GROUP})
    np.testing.assert_array_equal(peers.peer_group_codes(categorical), codes)
    pd.testing.assert_frame_equal(f, before)


def test_a_missing_code_is_its_own_group_and_an_empty_frame_has_no_codes():
    f = pd.DataFrame({"LIFE_STAGE": ["UNI", None, "UNI"], "AGE": ["20", "20", "20"]})
    np.testing.assert_array_equal(peers.peer_group_codes(f, peers.STAGE_AGE_GROUP), [1, 0, 1])
    assert peers.peer_group_codes(f.iloc[:0], peers.STAGE_AGE_GROUP).shape == (0,)


def test_a_missing_column_is_named():
    with pytest.raises(KeyError, match="SEX_CD"):
        peers.peer_group_codes(_frame().drop(columns="SEX_CD"))
