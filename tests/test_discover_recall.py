"""Discovery finds every planted case of the synthetic Huadu (benchmarks/synthetic_huadu.py) at a small size."""

from __future__ import annotations

import collections
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb", reason="the join needs DuckDB: pip install 'eligibility[discover]'")

from eligibility.discover.join import join
from eligibility.discover.mapping import load_mapping
from eligibility.discover.pseudonym import read_key
from eligibility.discover.report import run_discover

GENERATOR = Path(__file__).resolve().parent.parent / "benchmarks" / "synthetic_huadu.py"
#: The finding kinds that find each planted kind (a wrong tier between marginal and dibao is a
#: wrong program: they are separate programs in the policies).
FOUND_BY = {"missed_eligible": {"missed"}, "should_exit": {"exit"}, "wrong_tier": {"wrong_program", "wrong_tier"},
            "hukou_residence_split": {"residence_split"}, "enrolled_twice": {"enrolled_twice"},
            "values_disagree": {"values_disagree"}}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("synthetic_huadu", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic district of 400 households, joined and discovered on 2026-12-01."""
    out = tmp_path_factory.mktemp("huadu")
    _generator().generate(out, households=400, seed=3)
    join(load_mapping(out / "mapping.yaml"), out / "joined.jsonl", read_key(out / "pseudonym.key"))
    run_discover(out / "joined.jsonl", out / "report", on="2026-12-01")
    return out


def test_every_planted_case_of_every_kind_is_found(district: Path) -> None:
    """Recall is 100% for each planted kind: its household has a finding of the matching kind."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    for line in (district / "report" / "findings.jsonl").read_text(encoding="utf-8").splitlines():
        f = json.loads(line)
        found[f["household"]].add(f["kind"])
    truth = [json.loads(x) for x in (district / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {t["kind"] for t in truth} == set(FOUND_BY)
    missed = [(t["kind"], t["household"]) for t in truth if not found[t["household"]] & FOUND_BY[t["kind"]]]
    assert missed == []


def test_no_line_of_the_synthetic_district_is_an_error(district: Path) -> None:
    """Every joined household is decided: no error line (a tier waiting on unknown facts included)."""
    lines = (district / "report" / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and not [x for x in lines if '"error":{' in x]


def test_an_undetermined_household_is_never_reported_eligible(district: Path) -> None:
    """A row whose program waits on unknown facts is 'to verify', never 'likely'."""
    for line in (district / "report" / "findings.jsonl").read_text(encoding="utf-8").splitlines():
        f = json.loads(line)
        if any(d["eligible"] is None for d in f["decided"].values()) and f["kind"] in ("missed", "exit"):
            assert f["status"] == "to_verify", f


def test_discover_with_a_mapping_joins_first_and_finds_the_example_cases(tmp_path: Path) -> None:
    """`discover --mapping` joins the example extracts into OUT/joined.jsonl, then finds every planted case."""
    from click.testing import CliRunner

    from eligibility.cli import build

    example = Path(__file__).resolve().parent.parent / "examples" / "discovery"
    out = tmp_path / "out"
    result = CliRunner().invoke(build(), ["discover", "--mapping", str(example / "mapping.yaml"), "--key-file",
                                          str(example / "pseudonym.key"), "--on", "2026-12-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "joined.jsonl").is_file() and (out / "report.html").is_file()
    found: dict[str, set[str]] = collections.defaultdict(set)
    for line in (out / "findings.jsonl").read_text(encoding="utf-8").splitlines():
        f = json.loads(line)
        found[f["household"]].add(f["kind"])
    truth = [json.loads(x) for x in (example / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [t for t in truth if not found[t["household"]] & FOUND_BY[t["kind"]]] == []


def test_discover_needs_exactly_one_of_a_joined_file_and_a_mapping(tmp_path: Path) -> None:
    """Neither a joined file nor --mapping is a usage error (exit 2)."""
    from click.testing import CliRunner

    from eligibility.cli import build

    result = CliRunner().invoke(build(), ["discover", "--on", "2026-12-01", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "give either JOINED.jsonl or --mapping MAPPING" in result.output
