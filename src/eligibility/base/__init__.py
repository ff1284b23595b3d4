"""Errors, source spans and excerpts, wording shared by every layer, the engine's decimal context."""
