"""poselift: 3D human pose from video with the attention-based temporal network of Liu et al.

The way in: `create_model`, `list_models` (the model registry), `Lifter` (2D keypoints -> 3D poses).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "load_model", "Lifter"]


def __getattr__(name: str):
    # Lazy so that `import poselift` (and the CLI's --help) does not import torch.
    if name in ("create_model", "list_models", "load_model"):
        from poselift.models import registry

        return getattr(registry, name)
    if name == "Lifter":
        from poselift.inference import Lifter

        return Lifter
    raise AttributeError(f"module 'poselift' has no attribute {name!r}")
