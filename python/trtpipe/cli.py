"""The trtpipe command line: build, inspect, run and benchmark models."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys

import numpy as np

from trtpipe import _core
from trtpipe.commands import bench as bench_command
from trtpipe.commands import build as build_command
from trtpipe.commands import demo as demo_command
from trtpipe.commands import detect as detect_command
from trtpipe.commands import import_model as import_command
from trtpipe.commands import inspect as inspect_command
from trtpipe.commands import validate as validate_command
from trtpipe.errors import TrtpipeError
from trtpipe.info import info

log = logging.getLogger("trtpipe")


def _cmd_info(args: argparse.Namespace) -> int:
    report = info()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format_table())
    if args.self_test:
        return _self_test(report.gpus)
    return 0


def _self_test(gpus: list) -> int:
    if not gpus:
        log.error("self test: no GPU to test")
        return 1
    count = 1 << 20
    expected = 2.0 * np.arange(count, dtype=np.float32) + 1.0
    for gpu in gpus:
        values = _core.gpu_self_test(count, gpu.index)
        if not np.array_equal(values, expected):
            log.error("self test on GPU %d: wrong results", gpu.index)
            return 1
        log.info("self test on GPU %d (%s): kernel ran, results correct", gpu.index, gpu.name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trtpipe", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    p_info = commands.add_parser("info", help="build, GPUs and backends of this installation")
    p_info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_info.add_argument(
        "--self-test", action="store_true", help="also run a kernel on every visible GPU"
    )
    p_info.set_defaults(handler=_cmd_info)
    bench_command.add_parser(commands)
    build_command.add_parser(commands)
    demo_command.add_parser(commands)
    detect_command.add_parser(commands)
    import_command.add_parser(commands)
    inspect_command.add_parser(commands)
    validate_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):
        # `trtpipe info | head` should end quietly, as other command-line tools do.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except (TrtpipeError, OSError) as exc:  # OSError: e.g. an output path that cannot be written
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
