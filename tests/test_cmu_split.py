"""The commercial-use model's recipe trains on CMU subjects 01-10, validates on 11-12 and never sees 13-14."""

from __future__ import annotations

import glob
from pathlib import Path

from poselift.scenes.benchmark import BENCHMARK_SETS
from poselift.training.config import load_config

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "shipped_atcn_27f_cmu.toml"


def _bvh_files(patterns: tuple[str, ...]) -> set[Path]:
    """Every BVH file the config's entries name (relative to the repository root, as training runs there)."""
    files: set[Path] = set()
    for pattern in patterns:
        for match in glob.glob(str(REPO / pattern)):
            path = Path(match).resolve()
            files |= set(path.rglob("*.bvh")) if path.is_dir() else {path}
    return files


def test_cmu_recipe_names_only_cmu_data() -> None:
    config = load_config(CONFIG)
    assert config.data.kind == "mocap" and config.data.source == "cmu-daz" and not config.init_weights
    for entry in config.data.train + config.data.val:
        assert entry.startswith("../shared/data/mocap/cmu-daz/"), entry


def test_cmu_recipe_splits_subjects_as_the_fixed_sets_do(shared_dir: Path) -> None:
    config = load_config(CONFIG)
    train, val = _bvh_files(config.data.train), _bvh_files(config.data.val)
    subjects = {path.parent.name for path in train}
    assert subjects == {"01", "02", "03", "05", "06", "07", "08", "09", "10"}
    assert {path.parent.name for path in val} == {"11", "12"}
    mocap = (shared_dir / "data" / "mocap").resolve()
    benchmark_val = {(mocap / f).resolve() for f in BENCHMARK_SETS["validation"] if f.startswith("cmu-daz/")}
    benchmark_test = {(mocap / f).resolve() for f in BENCHMARK_SETS["test"] if f.startswith("cmu-daz/")}
    assert benchmark_val and benchmark_val <= val
    assert not train & (benchmark_val | benchmark_test) and not val & benchmark_test
