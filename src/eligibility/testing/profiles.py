"""Hypothesis settings profiles and the seed of property searches: what makes a search reproducible.

Every profile is derandomized (hypothesis draws its examples from a fixed seed), so the same
policies give the same examples on every run. `ELIGIBILITY_HYPOTHESIS_PROFILE` chooses the profile
(`dev` by default); `ELIGIBILITY_HYPOTHESIS_SEED=N` starts the searches from seed N instead, and
`random` draws a seed once per process, which is printed so that a failure can be reproduced.
"""

from __future__ import annotations

import os
import random as random_module
from typing import Any

from hypothesis import HealthCheck, Phase, settings

ENV = "ELIGIBILITY_HYPOTHESIS_PROFILE"
#: The environment variable choosing the seed of property searches: a whole number, or `random`.
SEED_ENV = "ELIGIBILITY_HYPOTHESIS_SEED"
#: Settings profiles, registered with hypothesis as `eligibility-<name>`. All are derandomized (the
#: same examples on every run, for `@given` tests too) unless a random run is asked for.
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"max_examples": 15, "derandomize": True},
    "dev": {"max_examples": 50, "derandomize": True},
    "thorough": {"max_examples": 1000, "derandomize": True},
}
DEFAULT_PROFILE = "dev"
#: The explain phase only annotates failure reports, which a counterexample case replaces; it is slow.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
for _name, _options in PROFILES.items():
    settings.register_profile(
        f"eligibility-{_name}", database=None, deadline=None, print_blob=False, phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **_options)
#: The seed `random` drew in this process, so that every search of a run uses (and prints) the same one.
_DRAWN: list[int] = []


def hypothesis_seed(seed: object = None) -> int | None:
    """Return the seed of property searches: the one given, else `$ELIGIBILITY_HYPOTHESIS_SEED`.

    None when neither chooses one: the searches are then derandomized (the same on every run).
    `"random"` draws a seed once per process (print it: `--seed` with it reproduces the run).

    Raises:
        ValueError: the seed is neither a whole number at least 0 nor "random".
    """
    chosen = seed if seed is not None else os.environ.get(SEED_ENV) or None
    if chosen is None:
        return None
    if chosen == "random":
        if not _DRAWN:
            _DRAWN.append(random_module.SystemRandom().randrange(2 ** 32))
        return _DRAWN[0]
    if isinstance(chosen, str) and chosen.isascii() and chosen.isdigit():
        chosen = int(chosen)
    if isinstance(chosen, bool) or not isinstance(chosen, int) or chosen < 0:
        raise ValueError(f"the hypothesis seed must be a whole number at least 0 or 'random', not {chosen!r} "
                         f"(from {SEED_ENV} or the caller)")
    return chosen


def random_run() -> bool:
    """Whether the environment asks for a random run (`ELIGIBILITY_HYPOTHESIS_SEED=random`)."""
    return os.environ.get(SEED_ENV) == "random"


def hypothesis_settings(profile: str | None = None) -> settings:
    """Return the settings of a profile: the one named, else `$ELIGIBILITY_HYPOTHESIS_PROFILE`, else dev.

    Derandomized (reproducible) unless `$ELIGIBILITY_HYPOTHESIS_SEED` is `random`.

    Raises:
        ValueError: the profile is not one of PROFILES.
    """
    name = profile or os.environ.get(ENV) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"unknown hypothesis profile {name!r} (from {ENV} or the caller); "
                         f"profiles: {', '.join(PROFILES)}")
    chosen = settings.get_profile(f"eligibility-{name}")
    return settings(chosen, derandomize=False) if random_run() else chosen
