"""The policy language: YAML loader, model, a reader per file kind, policy sets, expression nodes, parser, checker."""
