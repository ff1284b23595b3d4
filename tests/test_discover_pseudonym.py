"""Pseudonymous ids: a keyed hash of the identity number, the same for the same person, the key never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from eligibility import InputError
from eligibility.discover.pseudonym import Pseudonymizer, read_key

KEY = b"0123456789abcdef0123456789abcdef"


def test_the_same_number_gives_the_same_id_whatever_its_spacing_or_case() -> None:
    """A final x and X, and surrounding spaces, are the same person; another number is another id."""
    p = Pseudonymizer(KEY)
    assert p.person("44011419800101001x") == p.person(" 44011419800101001X ")
    assert p.person("44011419800101001X") != p.person("440114198001010029")
    assert p.person("44011419800101001X").startswith("p_") and len(p.person("1")) == 22
    assert p.household("HJ1") != p.person("HJ1")  # a booklet number and an ID number never collide


def test_the_key_is_never_shown() -> None:
    """The pseudonymizer's repr hides the key."""
    assert KEY.decode() not in repr(Pseudonymizer(KEY))


def test_keys_are_read_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's text or a variable's value, trimmed; a missing one or a short one is an argument error."""
    (tmp_path / "k").write_text(KEY.decode() + "\n", encoding="utf-8")
    assert read_key(tmp_path / "k") == KEY
    monkeypatch.setenv("K", KEY.decode())
    assert read_key(env="K") == KEY
    monkeypatch.setenv("SHORT", "abc")
    for call in (lambda: read_key(tmp_path / "missing"), lambda: read_key(env="UNSET_VARIABLE_X"),
                 lambda: read_key(env="SHORT"), lambda: read_key()):
        with pytest.raises(InputError) as e:
            call()
        assert e.value.subject == "arguments"
    with pytest.raises(InputError, match="at least 16"):
        Pseudonymizer(b"short")
