"""Subcommands of the ``trtpipe`` command line, one module each (``add_parser`` registers it)."""
