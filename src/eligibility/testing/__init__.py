"""Tools for trusting a policy set: YAML cases, properties, strategies, coverage, mutation, a reference interpreter."""
