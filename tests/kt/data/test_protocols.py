"""kt.data.protocols: every protocol splits by student; k-fold tests everyone once;
pyKT uses its folds."""

import pytest

from riley_gym.kt.data.protocols import PROTOCOLS, ProtocolConfig, protocol_splits
from tests.helpers.tables import fold_table


@pytest.mark.parametrize("protocol", ["holdout", "kfold", "dkt-synthetic"])
def test_protocol_splits_keep_students_apart_and_test_everyone_once_in_kfold(protocol):
    table = fold_table()
    parts = protocol_splits(table, ProtocolConfig(protocol, k=4, seed=1))
    assert len(parts) == (4 if protocol == "kfold" else 1)
    tested = []
    for train, valid, test in parts:
        assert valid is None
        assert not set(train["user_id"]) & set(test["user_id"])
        assert len(train) + len(test) == len(table)
        tested += test["user_id"].unique().tolist()
    if protocol == "kfold":
        assert sorted(tested) == sorted(table["user_id"].unique())
    if protocol == "dkt-synthetic":
        assert tested == [f"s{user}" for user in range(10, 20)]


def test_pykt_protocol_uses_the_folds_and_the_separate_testfold_table():
    table, test = fold_table(with_folds=True), fold_table(n_students=6, seed=1)
    ((train, valid, held_out),) = protocol_splits(table, ProtocolConfig("pykt", valid_fold=2), test)
    assert set(valid["fold"]) == {2} and 2 not in set(train["fold"]) and held_out is test
    with pytest.raises(ValueError, match="test table"):
        protocol_splits(table, ProtocolConfig("pykt"))
    with pytest.raises(ValueError, match="makes its own test set"):
        protocol_splits(table, ProtocolConfig("kfold"), test)
    with pytest.raises(ValueError, match="ProtocolConfig.protocol must be one of"):
        ProtocolConfig("leave-one-out")
    with pytest.raises(ValueError, match="ProtocolConfig.k must be an integer >= 2, got 1"):
        ProtocolConfig("kfold", k=1)
    assert PROTOCOLS == ("holdout", "kfold", "dkt-synthetic", "pykt")
