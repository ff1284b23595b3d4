"""Policy sets from git: `git:REV:PATH` names the folder PATH as committed in REV.

The folder PATH (relative to the repository root) as it is in the commit REV of the git repository
around the current folder, e.g. `git:HEAD~1:policies`, is read with `git ls-tree` and
`git cat-file` into a temporary folder; nothing else of the repository is touched.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from eligibility.base.errors import Diagnostic, PolicyError

MAX_GIT_BYTES = 64 << 20


@contextmanager
def policy_folder(spec: str, cwd: Path | None = None) -> Iterator[Path]:
    """Yield the folder a policy-set argument names: a path, or `git:REV:PATH` exported to a temporary folder.

    Raises:
        PolicyError: `git:` was given but git is missing, REV or PATH does not exist, or the export is
            too large (code `git`).
    """
    if not spec.startswith("git:"):
        yield Path(spec)
        return
    rev, sep, sub = spec[4:].partition(":")
    if not rev or not sep or rev.startswith("-"):
        raise _git_error(f"{spec!r} is not git:REV:PATH (for example git:HEAD~1:policies)")
    sub = sub.strip("/")
    name = PurePosixPath(sub).name or "policies"
    with tempfile.TemporaryDirectory(prefix="eligibility-diff-") as tmp:
        root = Path(tmp) / name
        root.mkdir()
        _export(rev, sub, root, cwd)
        yield root


def _git_error(message: str) -> PolicyError:
    return PolicyError([Diagnostic(None, "git", message)])


def _git(args: list[str], cwd: Path | None, data: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, timeout=120, check=False)
    except FileNotFoundError:
        raise _git_error("git is not installed; a git:REV:PATH policy set needs it") from None
    except (OSError, subprocess.TimeoutExpired) as e:
        raise _git_error(f"git could not run ({type(e).__name__})") from None
    if done.returncode != 0:
        msg = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _git_error(f"git {args[0]} failed: {msg[0] if msg else 'exit ' + str(done.returncode)}")
    return done.stdout


def _export(rev: str, sub: str, dest: Path, cwd: Path | None) -> None:
    """Write the YAML files of REV:SUB under dest, with one `git cat-file --batch` for all of them."""
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", f"{rev}:{sub}"], cwd)
    entries: list[tuple[str, str]] = []
    for raw in listing.split(b"\0"):
        if not raw:
            continue
        meta, _, path_bytes = raw.partition(b"\t")
        mode, kind, oid = meta.decode("ascii", "replace").split(" ")
        path = path_bytes.decode("utf-8", "surrogateescape")
        parts = PurePosixPath(path).parts
        if kind != "blob" or mode == "120000" or not path.endswith(".yaml") or ".." in parts or path.startswith("/"):
            continue  # only regular YAML files; never a symlink
        entries.append((oid, path))
    if not entries:
        raise _git_error(f"{rev}:{sub or '.'} holds no YAML file")
    out = _git(["cat-file", "--batch"], cwd, "".join(f"{oid}\n" for oid, _ in entries).encode("ascii"))
    pos = 0
    total = 0
    for oid, path in entries:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode("ascii", "replace").split(" ")
        if len(header) != 3 or header[0] != oid:
            raise _git_error(f"git cat-file gave an unexpected answer for {path}")
        size = int(header[2])
        total += size
        if total > MAX_GIT_BYTES:
            raise _git_error(f"{rev}:{sub} is larger than {MAX_GIT_BYTES >> 20} MiB of YAML")
        target = dest.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(out[end + 1:end + 1 + size])
        pos = end + 1 + size + 1


__all__ = ["MAX_GIT_BYTES", "policy_folder"]
