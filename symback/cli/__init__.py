"""The ``symback`` command line: one small module per command."""
