"""`poselift train`: train a lifting network from a TOML config, one process or many under torchrun."""

from __future__ import annotations

import argparse

from poselift.commands import HelpFormatter

HELP = "train a 2D-to-3D lifting model from a config file (resumes automatically from OUTPUT_DIR/last.pt)"

EPILOG = """examples:
  poselift train --config configs/tiny_mocap.toml
  poselift train --config configs/paper_h36m_243f.toml epochs=40 model.channels=512 output_dir=runs/h36m
  torchrun --nproc_per_node 2 -m poselift train --config configs/tiny_mocap.toml
"""


class _Formatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, examples kept as written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = _Formatter
    parser.add_argument("--config", required=True, metavar="FILE", help="training config (.toml or .json)")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE",
        help="config overrides with dotted keys, e.g. epochs=10 optim.lr=5e-4 model.channels=256",
    )
    parser.add_argument(
        "--resume", nargs="?", const="auto", default="auto", metavar="CHECKPOINT",
        help="continue from this checkpoint; \"auto\": OUTPUT_DIR/last.pt when it exists",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")


def run(args: argparse.Namespace) -> int:
    from poselift.training.config import load_config

    config = load_config(args.config, args.overrides)
    if args.print_config:
        print(config.to_json(), end="")
        return 0
    from poselift.training.trainer import train

    resume = True if args.resume == "auto" else args.resume
    result = train(config, resume=resume)
    return 0 if result.completed or config.max_steps else 1
