"""From a checked policy set to Python: the code generator, the helpers generated code calls, the pipeline."""
