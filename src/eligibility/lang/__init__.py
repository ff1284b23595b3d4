"""The policy language: YAML loader, model, schema readers, policy sets, expression nodes, parser, checker."""
