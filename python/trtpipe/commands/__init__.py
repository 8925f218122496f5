"""``trtpipe`` subcommands, one module each, registered in :mod:`trtpipe.cli`."""
