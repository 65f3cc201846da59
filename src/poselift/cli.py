"""The `poselift` command line: a thin layer over the library.

Each sub-command lives in `poselift.commands.<name>` and defines `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Command modules import nothing heavy at module level, so `poselift --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from poselift.errors import PoseliftError

COMMANDS: tuple[str, ...] = (
    "models",
    "lift",
    "convert",
    "export_onnx",
    "train",
    "evaluate",
    "prepare",
    "video",
    "demo",
    "export_bvh",
    "live",
)
"""Module names under poselift.commands; the sub-command is the module name with '-' for '_'."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from poselift import __version__

    parser = argparse.ArgumentParser(
        prog="poselift", description="3D human pose from 2D keypoints and video (Liu et al. 2020/2021)."
    )
    parser.add_argument("--version", action="version", version=f"poselift {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS:
        module = importlib.import_module(f"poselift.commands.{module_name}")
        command = sub.add_parser(
            module_name.replace("_", "-"), help=module.HELP, description=module.HELP,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 1
    try:
        return int(args.run(args) or 0)
    except PoseliftError as error:
        print(f"poselift: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("poselift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
