"""The model and its derivation: the graph the operators build, the rule registry, the reverse pass."""
