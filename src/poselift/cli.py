"""The `poselift` command line: a thin layer over the library.

Each sub-command lives in `poselift.commands.<name>` and defines `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Command modules import nothing heavy at module level, so `poselift --help` is instant.
Bad input ends in one line (`poselift: error: FILE: problem`, status 2); anything else is a bug, shown with
its traceback and a request to report it (status 1).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback

from poselift.commands import HelpFormatter
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

BUG_HINT = "poselift: this is a bug in poselift, not a problem with your input: please report it with the " \
           "traceback above and the command you ran"

QUIET_NATIVE_LOGS = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
"""Environment that asks MediaPipe's and TensorFlow Lite's native logging for errors only."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from poselift import __version__

    parser = argparse.ArgumentParser(
        prog="poselift", description="3D human pose from 2D keypoints and video (Liu et al. 2020/2021)."
    )
    parser.add_argument("--version", action="version", version=f"poselift {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show the native log lines of MediaPipe and TensorFlow Lite (hidden otherwise)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS:
        module = importlib.import_module(f"poselift.commands.{module_name}")
        command = sub.add_parser(
            module_name.replace("_", "-"), help=module.HELP, description=module.HELP, formatter_class=HelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def quiet_native_logging() -> None:
    """Silence MediaPipe's native logging (XNNPACK, feedback manager, NORM_RECT lines) before it is imported."""
    for name, value in QUIET_NATIVE_LOGS.items():
        os.environ.setdefault(name, value)
    try:
        from absl import logging as absl_logging
    except ImportError:
        return
    absl_logging.set_verbosity(absl_logging.ERROR)
    absl_logging.set_stderrthreshold("error")


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what native code writes to file descriptor 2 to /dev/null, while Python's sys.stderr (errors,
    progress bars) keeps the terminal: MediaPipe's C++ log lines ignore every logging setting."""
    try:
        real = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a captured or replaced stderr: leave it alone
        real = False
    if not real:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding,
                           errors=python_stderr.errors)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 1
    if not args.verbose:
        quiet_native_logging()
    try:
        with contextlib.nullcontext() if args.verbose else native_stderr_silenced():
            return int(args.run(args) or 0)
    except PoseliftError as error:
        print(f"poselift: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("poselift: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("poselift: error: out of memory (the input is larger than this machine can hold)", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except Exception:  # noqa: BLE001 - a bug: show it, and say so
        traceback.print_exc()
        print(BUG_HINT, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
