"""The compile pipeline: generated source is registered under its own name and nothing is written to disk."""

from __future__ import annotations

import linecache
from pathlib import Path

import pytest

import eligibility
from eligibility.compile.codegen import Generated
from eligibility.compile.pipeline import compile_generated, namespace


def _generated(source: str) -> Generated:
    return Generated(source=source, def_index={}, param_index={}, constants=(), nodes={}, node_ids={}, programs=())


def test_two_compilations_under_one_name_keep_their_own_lines() -> None:
    """A second, different source compiled under a name already registered gets a name of its own."""
    first = compile_generated(_generated("def f():\n    return 1\n"), "<policy:test-clash>")
    second = compile_generated(_generated("def f():\n    return 2\n"), "<policy:test-clash>")
    assert first.co_filename == "<policy:test-clash>"
    assert second.co_filename != first.co_filename
    assert linecache.getlines(first.co_filename)[1].strip() == "return 1"
    assert linecache.getlines(second.co_filename)[1].strip() == "return 2"
    assert namespace(_generated("def f():\n    return 2\n"), second)["f"]() == 2


def test_generated_code_runs_without_builtins() -> None:
    """The namespace of generated code has no builtins: only the helpers and its constants."""
    code = compile_generated(_generated("def f():\n    return open\n"), "<policy:test-builtins>")
    with pytest.raises(NameError):
        namespace(_generated(""), code)["f"]()


def test_loading_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load() leaves the user's home and cache folders untouched (there is no code cache to trust)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    eligibility.load()
    assert list(tmp_path.iterdir()) == []
