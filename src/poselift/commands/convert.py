"""`poselift convert`: a released checkpoint (authors' or VideoPose3D's) to poselift's weights format."""

from __future__ import annotations

import argparse

from poselift.commands import FPS

HELP = "convert a released checkpoint (cpn.bin, gt.bin, pretrained_h36m_cpn.bin) to poselift safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="released checkpoint (torch pickle with weights under model_pos)")
    parser.add_argument("dst", help="output .safetensors")
    parser.add_argument("--from", dest="source", choices=("liu2020", "videopose3d"), default=None,
                        help="which release (default: detected from parameter names)")
    parser.add_argument("--causal", action="store_true",
                        help="the checkpoint is causal (not visible in the weights; VideoPose3D's causal releases)")
    parser.add_argument("--fps", type=FPS, default=50.0, help="frame rate the weights expect (Human3.6M: 50)")


def run(args: argparse.Namespace) -> int:
    from poselift.models.convert import load_released_checkpoint
    from poselift.models.flops import count_parameters
    from poselift.models.weights import save_weights

    model = load_released_checkpoint(args.src, args.source, causal=args.causal)
    source = args.source or model.config.family
    save_weights(model, args.dst, {"fps": args.fps, "converted_from": str(args.src), "source_release": source,
                                   "training_data": "Human3.6M (see the original release's licence)"})
    print(f"{args.dst}: {model.config.family}, receptive field {model.receptive_field}, "
          f"{model.config.channels} channels, {count_parameters(model):,} parameters, "
          f"{'causal' if model.causal else 'symmetric'}")
    return 0
