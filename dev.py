#!/usr/bin/env python3
"""Developer entry point: `python3 dev.py demo` decides the example household; `python3 dev.py test` runs every test.

Needs only Python 3.11+: it creates .venv/, installs the project into it, and runs there.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env(extras: str) -> None:
    """Create the virtual environment and install the project with these extras, when needed."""
    stamp = VENV / ".installed"
    want = extras + ":" + hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    done = stamp.read_text().splitlines() if stamp.is_file() else []
    # Installed with these extras (or with everything, which includes them) for this pyproject.toml.
    if PY.exists() and (want in done or FULL + want[len(extras):] in done):
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"installing eligibility[{extras}] ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", f"{ROOT}[{extras}]"], check=True)
    stamp.write_text("\n".join([*done, want]) + "\n")


#: What `test` needs: everything. `demo` needs the core and the command line only.
FULL = "test,cli,parquet,spark,serve,discover,i18n,monitor,columnar"


def run(*args: str) -> int:
    return subprocess.run([str(PY), *args], cwd=ROOT, env=ENV).returncode


#: Hypothesis keeps what it learns in a folder of its own; the test run keeps it in a temporary one,
#: so that running the tests writes nothing into the checkout.
ENV = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": os.environ.get(
    "HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="eligibility-hypothesis-"))}


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    if cmd not in ("demo", "test", "bench", "messages"):
        print(__doc__)
        print("commands: demo | test | bench | messages")
        return 2
    ensure_env("cli" if cmd == "demo" else FULL)
    if cmd == "demo":
        lang = argv[1] if len(argv) > 1 else "zh"
        return run("-m", "eligibility", "explain", "examples/huadu-family.json", "--on", "2024-09-01",
                   "--lang", lang)
    if cmd == "messages":  # extract the messages, merge them into each catalog, compile (docs/how-to/translate.md)
        return run("tools/catalogs.py")
    if cmd == "bench":
        return run("benchmarks/bench_decide.py", *argv[1:])
    code = run("-m", "eligibility", "check", "policies")
    code = run("-m", "eligibility", "doc", "policies", "--out", "docs/policies", "--check") or code
    code = run("-m", "eligibility", "test", "policies", "-q", "--coverage", "--fail-under", "100") or code
    code = run("-m", "ruff", "check", "src", "tests", "benchmarks", "tools", "dev.py") or code
    code = run("-m", "mypy") or code
    code = run("-c", "from importlinter.cli import lint_imports_command; lint_imports_command()") or code
    code = run("-m", "pytest", *argv[1:]) or code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
