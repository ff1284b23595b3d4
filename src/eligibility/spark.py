"""Decide a Spark DataFrame of households (the public home of `eligibility.scale.spark`)."""

from eligibility.scale.spark import decide

__all__ = ["decide"]
