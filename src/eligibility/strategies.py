"""Hypothesis strategies for households and decision dates (the public home of `eligibility.testing.strategies`)."""

from eligibility.testing.strategies import decision_dates, households

__all__ = ["decision_dates", "households"]
