"""``app.sql.setting_held``: DuckDB settings changed for a block and restored after it, even on error."""

from __future__ import annotations

import duckdb
import pytest

from app.sql import setting, setting_held


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("threads", 1, 1),
        ("preserve_insertion_order", False, False),
        ("checkpoint_threshold", "1TB", "931.3 GiB"),
        ("memory_limit", "512MB", "488.2 MiB"),
    ],
)
def test_set_for_the_block_and_restored(name: str, value: object, shown: object) -> None:
    con = duckdb.connect()
    before = setting(con, name)
    with setting_held(con, name, value) as old:
        assert old == before
        assert setting(con, name) == shown
    assert setting(con, name) == before


def test_restored_after_an_error_and_default_kept_exactly() -> None:
    con = duckdb.connect()
    default = setting(con, "memory_limit")
    with pytest.raises(RuntimeError), setting_held(con, "memory_limit", "256MB"):
        raise RuntimeError("boom")
    assert setting(con, "memory_limit") == default
    con.execute("SET memory_limit = '1GB'")
    custom = setting(con, "memory_limit")
    with setting_held(con, "memory_limit", "256MB"):
        pass
    assert setting(con, "memory_limit") != default  # a custom limit is not reset to the default
    assert abs(float(setting(con, "memory_limit").split()[0]) - float(custom.split()[0])) < 0.5


def test_unknown_setting_reads_none_and_names_are_checked() -> None:
    con = duckdb.connect()
    assert setting(con, "no_such_setting") is None
    with pytest.raises(ValueError), setting_held(con, "threads; DROP TABLE x", 1):
        pass


def test_a_failed_restore_never_hides_the_blocks_own_error() -> None:
    """A block whose failure left the connection unusable (here: closed) raises its own error, not the restore's."""
    con = duckdb.connect()
    with pytest.raises(KeyError, match="the block's own error"), setting_held(con, "threads", 1):
        con.close()
        raise KeyError("the block's own error")
