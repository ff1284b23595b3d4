"""The mapping file is checked like a policy: every problem at file:line:col, with the line and a hint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eligibility.discover.mapping import MappingError, load_mapping

BAD = """\
mapping: 1
district: "Huadu"
extracts:
  hukou:
    department: 公安
    files: hukou*.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    household: booklet_no
    members:
      birth_dat: birth_date
      sex: {column: sex, values: {"1": male, "2": femal}}
      residential_units: {column: homes}
      hukou_local: {column: hukou_district, equals: "440114", aggregate: any}
  wages:
    department: 人社
    files: wages/*.parquet
    format: parket
    as_of: 2026-13-01
    members:
      personal_monthly_income: {column: wage, values: {"a": b}}
    household_facts:
      vehicles: {column: plate}
      residential_units: {aggregate: sum}
    colour: blue
"""


def test_every_problem_is_listed_with_its_position_and_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           golden: Callable[[str, str], None]) -> None:
    """Unknown facts (did you mean), enum values, misplaced facts, bad keys, formats and dates: all of them."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hukou.csv").write_text("id_number\n", encoding="utf-8")
    Path("mapping.yaml").write_text(BAD, encoding="utf-8")
    with pytest.raises(MappingError) as e:
        load_mapping("mapping.yaml")
    golden("diagnostics/discover-mapping.txt", e.value.render() + "\n")
    codes = [d.code for d in e.value.diagnostics]
    assert codes.count("unknown-fact") == 3 and "no-files" in codes and "missing-key" in codes


def test_the_example_mapping_loads() -> None:
    """The example under examples/discovery/ is a valid mapping of the bundled facts."""
    root = Path(__file__).parent.parent / "examples" / "discovery"
    mapping = load_mapping(root / "mapping.yaml")
    names = [x.name for x in mapping.extracts]
    assert names[0] == "hukou" and "enrolment" in names
    hukou = mapping.extracts[0]
    assert hukou.household is not None and hukou.split is not None
    assert {c.fact for c in hukou.members} >= {"birth_date", "relation", "hukou_local"}


def test_an_extract_without_households_is_an_error(tmp_path: Path) -> None:
    """Without any `household:` column the people cannot be grouped: an error pointing at extracts."""
    (tmp_path / "w.csv").write_text("id\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(
        'mapping: 1\ndistrict: "440114"\nextracts:\n  wages:\n    department: 人社\n    files: w.csv\n'
        "    format: csv\n    as_of: 2026-10-31\n    person: id\n    members:\n      unemployed: id\n",
        encoding="utf-8")
    with pytest.raises(MappingError) as e:
        load_mapping(tmp_path / "m.yaml")
    assert e.value.code == "no-households" and (e.value.line, e.value.col) == (4, 3)
