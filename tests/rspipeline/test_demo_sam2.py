"""The demo's object choice with SAM 2.1: asked for by name, or found by ``auto`` when only its checkpoint is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from rspipeline import demo_cli
from rspipeline.demo.objects import choose_objects


def test_the_demo_uses_sam2_when_asked_or_when_only_its_checkpoint_is_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path))
    assert demo_cli.parse_args(["--out", "o", "--objects", "sam2"]).objects == "sam2"
    assert choose_objects("sam2").arguments() == ["--model", "sam2", "--model-type", "large"]
    assert choose_objects("auto").arguments() == ["--model", "regions"]
    for name in ("sam2.1_hiera_large.pt", "sam2.1_hiera_small.pt"):
        (tmp_path / name).write_bytes(b"")
    chosen = choose_objects("auto")
    assert chosen.arguments() == ["--model", "sam2", "--model-type", "small"] and chosen.missing is None
    assert "SAM 2.1" in chosen.description and "sam2.1_hiera_small.pt" in chosen.description
    assert chosen.key == "sam2_small" and chosen.meaning == "SAM-family objects, as in the paper."
    (tmp_path / "sam_hq_vit_b.pth").write_bytes(b"")  # HQ-SAM, as before, when its checkpoint is there
    assert choose_objects("auto").arguments() == ["--model", "samhq", "--model-type", "vit_b"]
    assert choose_objects("sam2").arguments() == ["--model", "sam2", "--model-type", "small"]
