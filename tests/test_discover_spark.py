"""Discovery on Spark (local[2]) gives the findings of the local run, line for line."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") and importlib.util.find_spec("pyspark") is None:
    pytest.fail("CI must run the Spark test: dev.py installs eligibility[spark]", pytrace=False)
pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'eligibility[spark]'")
pytest.importorskip("pyarrow", reason="pyspark's mapInArrow needs pyarrow: pip install 'eligibility[spark]'")


from eligibility.discover.report import run_discover
from eligibility.discover.spark import discover
from test_discover import write_joined

ON = "2026-12-01"


@pytest.fixture
def session(spark_session: Any) -> Any:
    """The run's local Spark session (tests/conftest.py)."""
    return spark_session


def test_spark_discovery_equals_the_local_run(session: Any, tmp_path: Path) -> None:
    """Every line's decisions line, findings, trace and household file equal the local run's."""
    joined = write_joined(tmp_path / "joined.jsonl")
    run_discover(joined, tmp_path / "local", on=ON)
    texts = joined.read_text(encoding="utf-8").splitlines()
    df = session.createDataFrame([(i + 1, t) for i, t in enumerate(texts)], "line long, value string")
    rows = sorted(discover(df, on=ON).repartition(2).collect(), key=lambda r: r["line"])
    local = tmp_path / "local"
    assert [r["decision"] for r in rows] == (local / "decisions.jsonl").read_text("utf-8").splitlines(keepends=True)
    found = [f for r in rows if r["findings"] for f in json.loads(r["findings"])]
    assert found == [json.loads(x) for x in (local / "findings.jsonl").read_text("utf-8").splitlines()]
    assert found, "the joined file has findings of every kind"
    assert "".join(r["trace"] for r in rows if r["trace"]) == (local / "traces.jsonl").read_text("utf-8")
    for r in rows:
        if r["household"]:
            assert r["household"] == (local / "households" / f"{r['id']}.json").read_text("utf-8")
