"""Deciding a Spark DataFrame (local[2]) gives, row for row, what decide_many gives."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

import eligibility
from eligibility.scale.stream import decide_many

if os.environ.get("CI") and importlib.util.find_spec("pyspark") is None:
    pytest.fail("CI must run the Spark test: dev.py installs eligibility[spark]", pytrace=False)
pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'eligibility[spark]'")
pytest.importorskip("pyarrow", reason="pyspark's mapInArrow needs pyarrow: pip install 'eligibility[spark]'")


from eligibility import spark  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = "2024-09-01"


@pytest.fixture
def session(spark_session: Any) -> Any:
    """The run's local Spark session (tests/conftest.py)."""
    return spark_session


def households() -> list[tuple[str, str | None, str]]:
    """52 (id, date, household JSON) rows: 50 varied households, one invalid, one not JSON."""
    rows: list[tuple[str, str | None, str]] = []
    for i in range(50):
        h = json.loads(json.dumps(EXAMPLE))
        h["members"] = h["members"][: 1 + i % 3]
        h["assessed_monthly_income"] = f"{(i * 173) % 4000}.{i % 100:02d}"
        h["financial_assets"] = f"{(i * 977) % 40000}"
        rows.append((f"h{i}", "2023-09-01" if i % 9 == 0 else None, json.dumps(h)))
    rows.append(("invalid", None, json.dumps({"members": []})))
    rows.append(("not-json", None, "{"))
    return rows


@pytest.mark.parametrize("backend", ["row", "columnar"])
def test_spark_decide_equals_decide_many(session: Any, backend: str) -> None:
    """Every program's eligible, amount and tier, the hash and the errors equal decide_many's, row for row."""
    rows = households()
    df = session.createDataFrame(rows, "id string, on string, household string").repartition(2)
    out = spark.decide(df, on=ON, on_col="on", backend=backend)
    assert out.columns[:2] == ["id", "on"] and "household" not in out.columns
    got = {r["id"]: r.asDict() for r in out.collect()}
    records = [{"id": i, "household": json.loads(h), **({"on": d} if d else {})} if h != "{" else h
               for i, d, h in rows]
    programs = eligibility.load().programs
    for (rid, day, _), result in zip(rows, decide_many(None, records, on=ON), strict=True):
        want = {k: v for k, v in result.to_row(programs).items() if k not in ("index", "id", "on", "trace")}
        assert got[rid] == {"id": rid, "on": day, **want}, rid
    assert got["invalid"]["error_kind"] == "input" and got["not-json"]["error_kind"] == "json"
    assert sum(1 for r in got.values() if r["dibao_eligible"]) > 5


def test_spark_trace_and_struct_households(session: Any, tmp_path: Path) -> None:
    """A struct household column is turned into JSON; trace=True adds each decision's JSON trace."""
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "household": EXAMPLE}) + "\n", encoding="utf-8")
    df = session.read.json(str(tmp_path / "in.jsonl"))
    (row,) = spark.decide(df, on=ON, programs=["dibao"], trace=True).collect()
    assert row["dibao_eligible"] is True and row["dibao_amount"] == "1446.00"
    assert json.loads(row["trace"])["programs"]["dibao"]["eligible"] is True


def test_spark_refuses_a_column_the_output_would_repeat(session: Any) -> None:
    """An input column named like an output column is an InputError before any job runs."""
    df = session.createDataFrame([("a", "{}", "x")], "id string, household string, error string")
    with pytest.raises(eligibility.InputError, match="rename it"):
        spark.decide(df, on=ON)
