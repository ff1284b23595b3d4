"""Every code block of README.md and docs/ runs, and shows what it prints: a doc that drifts fails.

The conventions are in docs/how-to/write-docs.md. A ```python block runs as a script (`__name__ ==
"__main__"`), the blocks of one file in order in one namespace; the full-line comments right after a
statement are what it prints, or for an expression that prints nothing, its value's repr. A ```console
block runs each `$ ` command with bash and compares what it prints (standard output and error, as a
terminal shows them) with the lines below it. A ```sh block runs each command and needs exit status 0.
In expected text `…` (or `...`) stands for any text, over several lines too, runs of spaces compare
equal, and a hash (`sha256:` and hex digits, or 12 hex digits) matches any hash: hashes change with
every edit of a policy file. An info string with `norun` (```console norun: the reason) is not run;
the reason is required. ```yaml, ```json, ```text and other blocks are data, not run.
`<!-- doc-run: COMMAND -->` runs a hidden shell command before the next block (setup a reader does
not need to see); the text of the last data block is in the file `.doc-block` of the current folder,
so that a setup can apply the YAML a reader is told to add (`cat .doc-block >> policies/tests/dibao.yaml`).
Commands run in a temporary folder holding a copy of benchmarks/, examples/, policies/ and
docs/policies/; `eligibility` is `python -m eligibility` of this source tree; a file whose commands
call `curl` gets a server (`eligibility serve`) on a free port, with its token in `$TOKEN`.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).parent.parent
DOCS = sorted([ROOT / "README.md", *(p for p in (ROOT / "docs").rglob("*.md") if "policies" not in p.parts)])
RUN_KINDS = ("python", "console", "sh")
TOKEN = "doc-runner-token-0123456789abcdef"
#: Docs whose blocks after a `<!-- doc-stop: reason -->` line do not run yet: a debt, to be paid.
STOPS: dict[str, str] = {}
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`\n]*)$")


@attrs.frozen
class Block:
    """A fenced code block: its info string, text and first line in the file."""

    kind: str
    info: str
    text: str
    line: int
    setup: tuple[str, ...] = ()

    @property
    def norun(self) -> bool:
        return "norun" in self.info.split()[1:] or "norun" in self.info.replace(":", " ").split()[1:]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the hidden `doc-run` setup commands before each."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    setup: list[str] = []
    i = 0
    while i < len(lines):
        run = re.match(r"^<!-- doc-run: (.*) -->$", lines[i].strip())
        if run:
            setup.append(run.group(1))
        if lines[i].startswith("<!-- doc-stop:"):  # the blocks after it are not run yet (see STOPS)
            break
        m = FENCE.match(lines[i])
        if m and m.group("info").strip():
            info = m.group("info").strip()
            indent = len(m.group("indent"))
            body: list[str] = []
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                body.append(lines[j][indent:])
                j += 1
            out.append(Block(info.split()[0], info, "\n".join(body) + "\n", i + 1, tuple(setup)))
            setup = []
            i = j
        elif m:  # a bare fence opens a block without a language: data
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            i = j
        i += 1
    return out


def pattern(expected: str) -> re.Pattern[str]:
    """A regex for expected text: `…` and `...` match anything, runs of whitespace any whitespace."""
    parts = re.split(r"…|\.\.\.", " ".join(expected.split()))
    return re.compile(".*".join(r"\s*".join(re.escape(w) for w in p.split(" ")) for p in parts), re.S)


def masked(text: str) -> str:
    """Hashes masked: they change with every edit of a policy file, and the docs say so."""
    text = re.sub(r"sha256:[0-9a-f]{4,64}", "sha256:HASH", text)
    return re.sub(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])", "HASH", text)


def matches(expected: str, actual: str) -> bool:
    """Whether the printed text is what the doc shows, by the conventions above."""
    return pattern(masked(expected)).fullmatch(" ".join(masked(actual).split())) is not None


class Shell:
    """Runs a doc's commands in a temporary folder, as a reader at the root of a checkout would."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.cwd = work
        self.status = 0
        bindir = work / ".bin"
        bindir.mkdir()
        script = bindir / "eligibility"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m eligibility "$@"\n', encoding="utf-8")
        script.chmod(0o755)
        for name in ("python", "python3"):  # a script, not a symlink: a venv's python must be started by its path
            shim = bindir / name
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
            shim.chmod(0o755)
        self.env = {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"),
                    "HOME": str(work / ".home"), "LANG": "C.UTF-8", "TOKEN": TOKEN,
                    "TMPDIR": str(work / ".tmp"), "PYTHONDONTWRITEBYTECODE": "1",
                    "HYPOTHESIS_STORAGE_DIRECTORY": str(work / ".hypothesis"), "COLUMNS": "100",
                    "ELIGIBILITY_HYPOTHESIS_PROFILE": "ci"}
        (work / ".home").mkdir()
        (work / ".tmp").mkdir()
        self.port: int | None = None
        self.server: subprocess.Popen[bytes] | None = None

    def run(self, command: str, timeout: float = 120) -> tuple[int, str]:
        """Run one command with bash (the previous command's status in `$?`); its status and output."""
        if self.port is not None:
            command = command.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")
        state = self.work / ".doc-cwd"
        script = f'(exit {self.status}); {command}\n__status=$?; pwd > "{state}"; exit $__status'
        done = subprocess.run(["bash", "-c", script], cwd=self.cwd, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        self.status = done.returncode
        if state.is_file():  # a `cd` holds for the commands after it, as in a terminal
            self.cwd = Path(state.read_text(encoding="utf-8").strip())
        return done.returncode, done.stdout.decode("utf-8", "replace")

    def serve(self) -> None:
        """Start `eligibility serve` on a free port, with the token the docs read from `$TOKEN`."""
        (self.work / "token.txt").write_text(TOKEN + "\n", encoding="utf-8")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "eligibility", "serve", "--token-file", "token.txt", "--port", "0"],
            cwd=self.work, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.server.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.server.stderr.readline().decode("utf-8", "replace")
            found = re.search(r"127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                return
            if not line and self.server.poll() is not None:
                break
        raise AssertionError("the server of the doc runner did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            if self.server.stderr is not None:
                self.server.stderr.close()


def commands(text: str) -> Iterator[tuple[str, str]]:
    """The `$ ` commands of a console block, each with the output shown below it."""
    command: str | None = None
    output: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            if command is not None:
                yield command, "\n".join(output)
            command, output = line[2:], []
            while not complete(command) and i + 1 < len(lines):
                i += 1
                command = command + "\n" + lines[i]
        elif command is not None:
            output.append(line)
        i += 1
    if command is not None:
        yield command, "\n".join(output)


def complete(command: str) -> bool:
    """Whether a command is complete: no trailing backslash, no quote left open."""
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def sh_commands(text: str) -> list[str]:
    """The commands of an sh block: its lines, continued lines and open quotes joined, comments left out."""
    out: list[str] = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current = f"{current}\n{line}" if current else line
        if complete(current):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


def run_python(block: Block, namespace: dict[str, Any], where: str) -> None:
    """Run a python block statement by statement; check what each prints, or each expression's value, against the
    full-line comments right after it."""
    tree = ast.parse(block.text, filename=where)
    lines = block.text.splitlines()
    for stmt in tree.body:
        end = stmt.end_lineno or stmt.lineno
        expected: list[str] = []
        k = end
        while k < len(lines) and lines[k].lstrip().startswith("#"):
            expected.append(lines[k].lstrip()[1:].strip())
            k += 1
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            if isinstance(stmt, ast.Expr):
                value = eval(compile(ast.Expression(stmt.value), where, "eval"), namespace)
            else:
                exec(compile(ast.Module([stmt], []), where, "exec"), namespace)
                value = None
        if expected and (isinstance(stmt, ast.Expr) or out.getvalue()):
            actual = out.getvalue() if out.getvalue() or not isinstance(stmt, ast.Expr) else repr(value)
            shown = "\n".join(expected)
            assert matches(shown, actual), (f"{where}, line {block.line + stmt.lineno}: "
                                            f"{ast.get_source_segment(block.text, stmt)}\n"
                                            f"  shown:  {shown}\n  actual: {actual}")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_blocks_run(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each python, console and sh block of this doc runs, and prints what the doc shows."""
    found = blocks(doc)
    for b in found:
        if b.kind in RUN_KINDS and b.norun:
            reason = b.info.split("norun", 1)[1].strip(" :—-")
            assert reason, f"{doc.name}:{b.line}: a norun block needs its reason in the info string"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "docs" / "policies", tmp_path / "docs" / "policies")
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    shell = Shell(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    monkeypatch.chdir(tmp_path)
    for key in ("HOME", "TMPDIR"):
        monkeypatch.setenv(key, shell.env[key])
    try:
        if any(b.kind in ("console", "sh") and "curl " in b.text and not b.norun for b in found):
            shell.serve()
        for b in found:
            where = f"{doc.relative_to(ROOT)}:{b.line}"
            for command in b.setup:
                status, output = shell.run(command)
                assert status == 0, f"{where}: setup `{command}` failed:\n{output}"
            if b.kind not in RUN_KINDS:  # data: a later `doc-run` may apply it (`cat .doc-block >> FILE`)
                (shell.cwd / ".doc-block").write_text(b.text, encoding="utf-8")
                continue
            if b.norun:
                continue
            if b.kind == "python":
                run_python(b, namespace, where)
            elif b.kind == "console":
                for command, shown in commands(b.text):
                    _, output = shell.run(command)
                    assert matches(shown, output), f"{where}: $ {command}\n--- shown:\n{shown}\n--- printed:\n{output}"
            else:
                for command in sh_commands(b.text):
                    status, output = shell.run(command)
                    assert status == 0, f"{where}: `{command}` exited {status}:\n{output}"
    finally:
        shell.stop()


def test_the_runner_reads_the_conventions() -> None:
    """Wildcards match any text, spaces are loose, and a wrong count or word does not match."""
    assert matches("262 passed, 0 failed", "262 passed,  0 failed\n")
    assert matches("wrote book/a.md\n…\nwrote book/index.md", "wrote book/a.md\nx\ny\nwrote book/index.md")
    assert matches("sha256:e4d8…  programs: a, b", "sha256:e4d8ffff  programs: a, b")
    assert not matches("262 passed, 0 failed", "263 passed, 0 failed")
    assert not matches("intact: record", "tampered: the record is not intact")
    assert matches("record sha256:5785…, files 5dd0292408d3", "record sha256:1652140a98d5…, files fe3526a2a08b")
    assert not matches("record sha256:5785…", "record 1652140a98d5…")
    assert list(commands("$ a \\\n  b\nout\n$ c\n")) == [("a \\\n  b", "out"), ("c", "")]
    assert sh_commands("# note\na \\\n b\n\nc  # why\nd '{\n}'\n") == ["a \\\n b", "c  # why", "d '{\n}'"]


def test_doc_stops_are_known() -> None:
    """A doc that stops running part way (`<!-- doc-stop: reason -->`) is listed here, with its reason."""
    stopped = {str(d.relative_to(ROOT)) for d in DOCS if "<!-- doc-stop:" in d.read_text(encoding="utf-8")}
    assert stopped == set(STOPS), f"doc-stop markers in {sorted(stopped)}; STOPS lists {sorted(STOPS)}"


def test_norun_blocks_are_few() -> None:
    """Blocks that cannot run in CI are marked, each with its reason, and stay few (at most 24)."""
    runnable = [b for doc in DOCS for b in blocks(doc) if b.kind in RUN_KINDS]
    marked = [b for b in runnable if b.norun]
    assert runnable and len(marked) <= 24, f"{len(marked)} of {len(runnable)} blocks are norun"


def test_docs_name_no_path_users_do_not_have() -> None:
    """Docs, policy comments and sources cite documents by id and title, never a folder the users do not have."""
    files = [*DOCS, *(ROOT / "policies").rglob("*.yaml"), *(ROOT / "src").rglob("*.py")]
    pattern_ = re.compile(r"(?<![\w.])(shared/|domain[-_ ]notes|research notes|DESIGN\.md|RELIABILITY\.md)")
    bad = [f"{f.relative_to(ROOT)}:{n}: {line.strip()}" for f in files
           for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if pattern_.search(line)]
    assert not bad, "\n".join(bad)
