"""The library version, recorded in every decision."""

__version__ = "0.2.0"
