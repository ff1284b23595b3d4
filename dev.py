#!/usr/bin/env python3
"""Developer entry point: `python3 dev.py demo` decides the example household; `python3 dev.py test` runs every test.

Needs only Python 3.11+: it creates .venv/, installs the project into it, and runs there.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env() -> None:
    """Create the virtual environment and install the project, when pyproject.toml changed."""
    stamp = VENV / ".installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == want and PY.exists():
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing eligibility[test,cli,parquet,spark] ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", f"{ROOT}[test,cli,parquet,spark]"], check=True)
    stamp.write_text(want)


def run(*args: str) -> int:
    return subprocess.run([str(PY), *args], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    if cmd not in ("demo", "test", "bench"):
        print(__doc__)
        print("commands: demo | test | bench")
        return 2
    ensure_env()
    if cmd == "demo":
        lang = argv[1] if len(argv) > 1 else "zh"
        return run("-m", "eligibility", "explain", "examples/huadu-family.json", "--on", "2024-09-01",
                   "--lang", lang)
    if cmd == "bench":
        return run("benchmarks/bench_decide.py", *argv[1:])
    code = run("-m", "eligibility", "check", "policies")
    code = run("-m", "eligibility", "doc", "policies", "--out", "docs/policies", "--check") or code
    code = run("-m", "eligibility", "test", "policies", "-q", "--coverage", "--fail-under", "100") or code
    code = run("-m", "ruff", "check", "src", "tests", "benchmarks", "dev.py") or code
    code = run("-m", "mypy") or code
    code = run("-c", "from importlinter.cli import lint_imports_command; lint_imports_command()") or code
    code = run("-m", "pytest", *argv[1:]) or code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
