"""The join in Spark SQL (local[2]) writes, line for line, what the DuckDB join writes, from the same mapping."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") and importlib.util.find_spec("pyspark") is None:
    pytest.fail("CI must run the Spark test: dev.py installs eligibility[spark]", pytrace=False)
pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'eligibility[spark]'")
pytest.importorskip("duckdb", reason="the join needs DuckDB: pip install 'eligibility[discover]'")


from eligibility.discover.join import join
from eligibility.discover.mapping import load_mapping
from eligibility.discover.pseudonym import read_key
from eligibility.discover.spark_join import spark_join

ROOT = Path(__file__).parent.parent


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("synthetic_huadu", ROOT / "benchmarks" / "synthetic_huadu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def session(spark_session: Any) -> Any:
    """The run's local Spark session (tests/conftest.py)."""
    return spark_session


def test_spark_join_writes_the_duckdb_lines(session: Any, tmp_path: Path) -> None:
    """On a small synthetic district every household's line from Spark SQL equals DuckDB's, byte for byte."""
    _generator().generate(tmp_path, households=80, seed=2)
    mapping = load_mapping(tmp_path / "mapping.yaml")
    key = read_key(tmp_path / "pseudonym.key")
    join(mapping, tmp_path / "joined.jsonl", key)
    expected = (tmp_path / "joined.jsonl").read_text(encoding="utf-8").splitlines()
    rows = spark_join(session, mapping, key).orderBy("id").collect()
    lines = [r["line"] for r in rows]
    assert len(lines) == len(expected) == 80
    for got, want in zip(lines, expected, strict=True):
        assert got == want
    assert any('"conflicts":[{' in line for line in lines)
