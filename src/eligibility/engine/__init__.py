"""Deciding: facts validation, the Engine and its Decision, the trace, the why-not search."""
