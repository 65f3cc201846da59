"""Copy a trained run's final weights into the package as a shipped model, with its full metadata.

    python scripts/release_weights.py runs/shipped_atcn_27f_stage2/final.safetensors atcn_27f_mocap \
        --config configs/shipped_atcn_27f.toml --config recipes/atcn_27f_mocap/stage2.toml

Give `--config` once per training stage, in order (a later stage starts from the earlier one's weights).
`--half` stores the tensors as float16, half the file (the shipped default's is; docs/model-cards.md).
Several weights files release their uniform weight average (`average_weights`, a "model soup" of networks
fine-tuned from one start); then `--config` lists every config that trained them, in an order that runs.

The metadata records the name, the licence, the data's attribution, the config and command that
produced the weights, and everything the training run stored (fps, joint layout, normalisation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    from poselift.models.registry import PRETRAINED
    from poselift.models.weights import average_weights, save_weights

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, nargs="+",
                        help="a run's final.safetensors, or several to release their weight average")
    parser.add_argument("name", choices=sorted(PRETRAINED), help="the shipped model it becomes")
    parser.add_argument("--config", required=True, action="append",
                        help="the training config that produced it; once per stage, in order")
    parser.add_argument("--half", action="store_true", help="store float16 tensors (half the file)")
    args = parser.parse_args()
    model = average_weights(args.weights)
    info = PRETRAINED[args.name]
    meta = dict(model.meta)
    meta.update({
        "name": args.name,
        "description": f"{info.description} ({model.receptive_field} frames, {model.config.channels} channels)",
        "licence": info.licence,
        "training_data": info.training_data,
        "training_config": ", then ".join(args.config),
        "training_command": " && ".join(f"poselift train --config {config}" for config in args.config),
        "model_card": "docs/model-cards.md",
    })
    if len(args.weights) > 1:
        meta["training_command"] += " && python scripts/release_weights.py " + " ".join(
            str(path) for path in args.weights) + f" {args.name}"
    out = REPO / "src" / "poselift" / "weights" / info.file
    save_weights(model, out, meta, half=args.half)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
