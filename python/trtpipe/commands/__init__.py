"""``trtpipe`` subcommands, one module each, each exposing ``add_parser(subparsers)``."""
