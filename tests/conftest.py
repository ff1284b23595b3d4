"""Shared fixtures: the bundled engine, policy folders written on the fly, and golden files."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import eligibility
from eligibility import Diagnostic, PolicyError
from eligibility.testing.profiles import SEED_ENV, hypothesis_seed, random_run

# Hypothesis keeps what it learns in a folder of its own: a temporary one, never the checkout.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="eligibility-hypothesis-"))


#: Hypothesis tests are reproducible by default (derandomized: the same examples on every run);
#: ELIGIBILITY_HYPOTHESIS_SEED=random asks for a random run, whose seed hypothesis prints on failure.
settings.register_profile("eligibility-tests", derandomize=not random_run(), database=None)
settings.load_profile("eligibility-tests")


def pytest_report_header() -> str:
    """Say how the property searches of this run are seeded, so that a failure can be reproduced."""
    if random_run():
        return (f"eligibility: random run ({SEED_ENV}=random); YAML properties use seed {hypothesis_seed()} "
                f"(rerun with {SEED_ENV}={hypothesis_seed()}); @given tests print theirs on failure")
    seed = hypothesis_seed()
    how = "derandomized" if seed is None else f"YAML properties from seed {seed}"
    return f"eligibility: reproducible run, {how} ({SEED_ENV}=random for a random run)"

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parent.parent
#: A frozen copy of the dibao policies (facts, the three dibao layers and their cases), so that
#: the library's tests and golden files do not change each time the bundled policies do.
#: The bundled policies are tested by their own YAML cases under policies/tests/.
FIXTURE = Path(__file__).parent / "fixtures" / "dibao"
#: The small programs the test modules share (tests/fixtures/demo); a module that needs another
#: shape writes it as a small change of one of them, so that its own difference stands out.
DEMOS = Path(__file__).parent / "fixtures" / "demo"
#: The demo program on the conftest facts: a per-capita income test against a money standard,
#: and an amount that tops the income up to it.
DEMO = (DEMOS / "demo.yaml").read_text(encoding="utf-8")
#: The demo program with the income test on the household's income and no amount.
DEMO_FLAT = (DEMOS / "demo-flat.yaml").read_text(encoding="utf-8")
#: A dibao program of one rule whose condition is the placeholder WHEN (line 16, column 11).
DIBAO = (DEMOS / "dibao.yaml").read_text(encoding="utf-8")
#: Set ELIGIBILITY_UPDATE_GOLDEN=1 to rewrite golden files instead of comparing with them.
UPDATE = os.environ.get("ELIGIBILITY_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test without a locale, so the command line's messages are English unless a test asks."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session (two executor threads, its Python workers this interpreter) for every Spark test.

    Started once for the run (a JVM start takes tens of seconds) and stopped at its end.
    """
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    s = (SparkSession.builder.master("local[2]").appName("eligibility-test")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
         .config("spark.driver.memory", "1g").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def engine() -> eligibility.Engine:
    """The engine of the frozen dibao policies (tests/fixtures/dibao)."""
    return eligibility.load(FIXTURE)


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare text with tests/golden/NAME (rewritten when ELIGIBILITY_UPDATE_GOLDEN=1)."""

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if UPDATE or not path.exists():
            if not UPDATE and os.environ.get("CI"):
                pytest.fail(f"golden file {name} is missing; run with ELIGIBILITY_UPDATE_GOLDEN=1 and commit it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from golden file {name} (ELIGIBILITY_UPDATE_GOLDEN=1 rewrites it)"

    return check


FACTS = """\
facts: 1
household:
  assessed_monthly_income: {type: money, unit: CNY/month, label: {zh: 月收入, en: Monthly income}}
  financial_assets: {type: money, label: {zh: 金融资产, en: Financial assets}, required: false, default: 0}
  members:
    type: list
    min_items: 1
    label: {zh: 家庭成员, en: Members}
    fields:
      id: {type: text, label: {zh: 编号, en: Id}}
      birth_date: {type: date, label: {zh: 出生日期, en: Date of birth}}
      sex:
        type: enum
        label: {zh: 性别, en: Sex}
        values: {male: {zh: 男, en: male}, female: {zh: 女, en: female}}
      disability_grade: {type: integer, min: 0, max: 4, required: false, default: 0, label: {zh: 残疾等级, en: Disability grade}}
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write a policy folder: a small facts vocabulary plus the given files (dedented)."""

    def make(files: dict[str, str], facts: str | None = FACTS) -> Path:
        root = tmp_path / "policies"
        root.mkdir(exist_ok=True)
        if facts is not None:
            (root / "facts.yaml").write_text(facts, encoding="utf-8")
        for name, text in files.items():
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make


def errors(err: PolicyError) -> list[Diagnostic]:
    """The errors of a PolicyError (not its warnings)."""
    return [d for d in err.diagnostics if d.severity == "error"]


def only(err: PolicyError, code: str | None = None) -> Diagnostic:
    """The single error of a PolicyError, with the given code (when one is given)."""
    found = errors(err)
    assert len(found) == 1, err.render()
    if code is not None:
        assert found[0].code == code, err.render()
    assert found[0].span is not None
    return found[0]


def where(d: Diagnostic) -> tuple[str, int, int]:
    """The file, line and column of a diagnostic."""
    assert d.span is not None
    return d.span.path, d.span.line, d.span.col


def run_pytest(root: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run plain pytest on a policy folder in a new process from `cwd` (with an empty pytest.ini there)."""
    (cwd / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}
    environ.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, str(root)],
                          cwd=cwd, capture_output=True, text=True, env=environ, timeout=120, check=False)


#: The README family (examples/huadu-family.json).
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))


def readme_family() -> dict[str, Any]:
    """The README family (examples/huadu-family.json): eligible for 1446.00 on 2024-09-01."""
    return copy.deepcopy(FAMILY)


def failing_family() -> dict[str, Any]:
    """The README family with income 4200.00 (1400 per capita) and a car: not eligible."""
    h = readme_family()
    h["assessed_monthly_income"] = "4200.00"
    h["vehicles"].append({"kind": "car", "sole_livelihood": False})
    return h


def chromium() -> str:
    """Return the Chromium executable; skip (fail on CI, which installs it) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        message = "chromium is not installed (apt-get install chromium); .ci/run installs it on CI"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


# ------------------------------------------------------------------ monitor: event logs, alert files, killed runs


def write_log(path: Path, lines: Iterable[str]) -> Path:
    """Write event lines as a JSONL event log, one a line; return its path."""
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return path


def alert_file(db: Path, out: Path) -> Path:
    """Write every alert of the monitor state `db` to `out`, as `eligibility monitor` does; return `out`."""
    from eligibility.monitor.run import write_alerts
    from eligibility.monitor.store import Store

    store = Store(db)
    try:
        write_alerts(store, out)
    finally:
        store.close()
    return out


#: A monitor run (argv: ENGINE ROOT LOG DB KILL_AT BATCH, ENGINE a module of eligibility.monitor) that kills
#: its process with SIGKILL just before (odd KILL_AT) or just after (even KILL_AT) its KILL_AT-th commit;
#: KILL_AT 0 runs to the end.
KILLED_RUN = """\
import importlib, os, signal, sys
from pathlib import Path
import eligibility
from eligibility.monitor.rules import load_rules
from eligibility.monitor.store import Store

name, root, log, db = sys.argv[1:5]
kill_at, batch = int(sys.argv[5]), int(sys.argv[6])
engine = eligibility.load(root)
store = Store(db)
real = store.commit
count = [0]

def commit(**kw):
    count[0] += 1
    if count[0] == kill_at and kill_at % 2:
        os.kill(os.getpid(), signal.SIGKILL)  # killed before this batch is committed
    real(**kw)
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # killed just after it

store.commit = commit
monitor = importlib.import_module(f"eligibility.monitor.{name}").Monitor
monitor(engine, load_rules(Path(root), engine), store, batch=batch).run(log)
"""


def run_killed(engine: str, root: Path, log: Path, db: Path, kill_at: int,
               batch: int) -> subprocess.CompletedProcess[str]:
    """Run KILLED_RUN with the monitor `engine` (reference or durable) in a new process, on this checkout's package."""
    script = db.with_name("killed_run.py")
    script.write_text(KILLED_RUN, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, str(script), engine, str(root), str(log), str(db), str(kill_at),
                           str(batch)], env=env, capture_output=True, text=True, check=False, timeout=300)
