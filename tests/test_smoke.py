"""The README example works end to end."""

from decimal import Decimal

import eligibility


def test_readme_family_gets_the_gap_to_the_standard(engine: eligibility.Engine) -> None:
    """A 3-person Huadu family with income 2400 on 2024-09-01 gets (1282 - 800) x 3 = 1446.00."""
    import json
    from pathlib import Path

    household = json.loads((Path(__file__).parent.parent / "examples" / "huadu-family.json").read_text())
    decision = engine.decide(household, on="2024-09-01")
    assert decision.programs["dibao"].eligible is True
    assert decision.programs["dibao"].amount == Decimal("1446.00")
