"""Pseudonymous ids: a keyed hash (HMAC-SHA256) of an identity number, the key kept outside every output.

An ID-card number never leaves the join: people are known by `p_…` and households by `h_…`, the
first 20 hex digits (80 bits) of HMAC-SHA256 under a secret key. Without the key the ids cannot be
linked back to a number by hashing every possible ID-card number (there are only about 10^11);
with the same key, the same person gets the same id in every run, so two months' reports compare.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from eligibility.base.errors import InputError, InputProblem

#: Hex digits kept of the HMAC: 80 bits, so a collision among the people of a province is
#: vanishingly unlikely (about 10^-8 for 10^8 people).
DIGITS = 20
#: The shortest key accepted, in bytes.
MIN_KEY_BYTES = 16


def normalize(number: str) -> str:
    """Return an identity number as it is hashed: trimmed, upper-case (a final check letter x is X)."""
    return number.strip().upper()


class Pseudonymizer:
    """Turn identity numbers and household keys into pseudonymous ids under one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise InputError([InputProblem("key", "range",
                                           f"the pseudonym key has {len(key)} bytes; at least {MIN_KEY_BYTES} "
                                           "are needed (e.g. 32 random bytes, hex-encoded)")], subject="arguments")
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymizer(<key hidden>)"

    def _digest(self, kind: str, text: str) -> str:
        return hmac.new(self._key, f"{kind}:{text}".encode(), hashlib.sha256).hexdigest()[:DIGITS]

    def person(self, number: str) -> str:
        """Return the person id of an identity number (ID-card number), `p_` and 20 hex digits."""
        return "p_" + self._digest("person", normalize(number))

    def household(self, key: str) -> str:
        """Return the household id of a household key (a hukou booklet number), `h_` and 20 hex digits."""
        return "h_" + self._digest("household", key.strip())


def read_key(key_file: str | Path | None = None, env: str | None = None) -> bytes:
    """Read the pseudonym key from a file or an environment variable (its text, whitespace trimmed).

    Raises:
        InputError: neither is given, the file cannot be read, the variable is unset, or the key is too short.
    """
    if key_file is not None:
        try:
            text = Path(key_file).read_bytes().strip()
        except OSError as e:
            raise InputError([InputProblem("key_file", "missing", f"cannot read {key_file}: {e.strerror}")],
                             subject="arguments") from None
    elif env is not None:
        value = os.environ.get(env)
        if not value:
            raise InputError([InputProblem("key_env", "missing", f"the environment variable {env} is not set")],
                             subject="arguments")
        text = value.strip().encode()
    else:
        raise InputError([InputProblem("key", "missing", "give the pseudonym key: a key file or an environment "
                                       "variable holding it")], subject="arguments")
    if len(text) < MIN_KEY_BYTES:
        raise InputError([InputProblem("key", "range", f"the pseudonym key has {len(text)} bytes; at least "
                                       f"{MIN_KEY_BYTES} are needed (e.g. 32 random bytes, hex-encoded)")],
                         subject="arguments")
    return text
