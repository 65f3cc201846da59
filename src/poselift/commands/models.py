"""`poselift models`: the registered variants with receptive field, parameters and MFLOPs per output frame."""

from __future__ import annotations

import argparse

from poselift.commands import ranged

HELP = "list the model variants (receptive field, parameters, MFLOPs per output frame) and shipped weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*",
                        help="part of a name (e.g. mocap, causal) or a glob pattern (atcn_*f); default: all")
    parser.add_argument("--channels", type=ranged(int, minimum=1, maximum=4096), default=None,
                        help="override the channel count")


def name_matches(name: str, pattern: str) -> bool:
    """A glob when the pattern has *, ? or [; otherwise a case-insensitive substring."""
    import fnmatch

    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatch(name, pattern)
    return pattern.lower() in name.lower()


def run(args: argparse.Namespace) -> int:
    from poselift.models.flops import count_parameters, flops_per_frame
    from poselift.models.registry import (
        DEFAULT_CAUSAL_MODEL,
        DEFAULT_MODEL,
        PRETRAINED,
        create_model,
        list_models,
        load_model,
    )

    overrides = {"channels": args.channels} if args.channels else {}
    rows = []
    for name in list_models():
        if not name_matches(name, args.pattern):
            continue
        model = create_model(name, **overrides)
        rows.append((name, model.receptive_field, "causal" if model.causal else "symmetric",
                     model.config.channels, count_parameters(model), flops_per_frame(model) / 1e6, ""))
    defaults = {DEFAULT_MODEL: "the default", DEFAULT_CAUSAL_MODEL: "the default for live"}
    for name, info in sorted(PRETRAINED.items()):
        if not name_matches(name, args.pattern):
            continue
        mark = f" ({defaults[name]})" if name in defaults else ""
        try:
            model = load_model(name)
        except Exception:  # noqa: BLE001 - a missing shipped file is reported, not fatal
            rows.append((name, "-", "-", "-", "-", float("nan"), f"weights file missing{mark}"))
            continue
        rows.append((name, model.receptive_field, "causal" if model.causal else "symmetric",
                     model.config.channels, count_parameters(model), flops_per_frame(model) / 1e6,
                     f"pretrained{mark}, {info.licence}"))
    if not rows:
        print(f"no model name contains or matches {args.pattern!r}; `poselift models` lists them all")
        return 1
    header = ("model", "frames", "type", "channels", "parameters", "MFLOPs/frame", "weights")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        name, rf, kind, ch, params, mflops, note = row
        params_text = f"{params:,}" if isinstance(params, int) else params
        print(f"| {name} | {rf} | {kind} | {ch} | {params_text} | {mflops:.1f} | {note} |")
    return 0
