"""The compiled-code cache: a second process reuses the code; a bad cache file is never trusted blindly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eligibility.compiler import compile_cached

SOURCE = "def f():\n    return 41 + 1\n"


def run(code: object) -> int:
    ns: dict[str, object] = {}
    exec(code, ns)  # the test's own source
    return ns["f"]()  # type: ignore[operator,no-any-return]


def test_compiled_code_is_stored_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first compile writes one cache file; the second returns working code from it."""
    monkeypatch.setenv("ELIGIBILITY_CACHE_DIR", str(tmp_path))
    assert run(compile_cached(SOURCE, "<t>")) == 42
    files = list(tmp_path.glob("*.code"))
    assert len(files) == 1
    assert run(compile_cached(SOURCE, "<t>")) == 42


def test_a_damaged_cache_file_is_compiled_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Garbage in the cache file is ignored: the source is compiled again and the file replaced."""
    monkeypatch.setenv("ELIGIBILITY_CACHE_DIR", str(tmp_path))
    compile_cached(SOURCE, "<t>")
    (path,) = tmp_path.glob("*.code")
    path.write_bytes(b"\x00garbage")
    assert run(compile_cached(SOURCE, "<t>")) == 42


def test_a_folder_others_can_write_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder writable by group or others is not read from or written to."""
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    monkeypatch.setenv("ELIGIBILITY_CACHE_DIR", str(folder))
    assert run(compile_cached(SOURCE, "<t>")) == 42
    assert list(folder.iterdir()) == []


def test_caching_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ELIGIBILITY_CACHE=0 compiles without touching the cache folder."""
    monkeypatch.setenv("ELIGIBILITY_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("ELIGIBILITY_CACHE", "0")
    assert run(compile_cached(SOURCE, "<t>")) == 42
    assert list(tmp_path.iterdir()) == []
