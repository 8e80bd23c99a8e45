"""The Semantic-SAM adapter against a stand-in for its published API.

Semantic-SAM cannot be installed here (no PyPI package, CUDA-only builder), so a fake ``semantic_sam`` module
records how the adapter calls ``SemanticSamAutomaticMaskGenerator``. This checks our side of the contract only.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from sam_objects.registry import build_object_source, settings_for
from sam_objects.semantic_sam_source import SemanticSamObjectSource


class _FakeGenerator:
    calls: list[dict] = []

    def __init__(self, model: object, **arguments: object) -> None:
        self.arguments = arguments
        _FakeGenerator.calls.append(arguments)

    def generate(self, image: torch.Tensor) -> list[dict]:
        assert image.dtype == torch.uint8 and image.shape == (3, 4, 5)
        mask = np.zeros((4, 5), dtype=bool)
        mask[0, : self.arguments["level"][0]] = True  # level k marks k pixels, so the order is visible
        return [{"segmentation": mask, "area": int(mask.sum())}]


@pytest.fixture
def fake_semantic_sam(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("semantic_sam")
    module.__file__ = "/nowhere/Semantic-SAM/semantic_sam/__init__.py"
    module.SemanticSamAutomaticMaskGenerator = _FakeGenerator
    monkeypatch.setitem(sys.modules, "semantic_sam", module)
    _FakeGenerator.calls = []
    return module


def test_one_generator_per_level_and_all_masks_kept(fake_semantic_sam: types.ModuleType) -> None:
    settings = settings_for("ssam", levels=[3, 5])
    source = SemanticSamObjectSource(object(), settings, torch.device("cpu"))
    records = source(np.zeros((4, 5, 3), dtype=np.uint8))

    assert [call["level"] for call in _FakeGenerator.calls] == [[3], [5]]
    for call in _FakeGenerator.calls:
        assert call["output_mode"] == "binary_mask"
        assert (call["points_per_side"], call["pred_iou_thresh"], call["crop_n_layers"]) == (32, 0.95, 0)
        assert "levels" not in call
    assert [record["area"] for record in records] == [3, 5]
    assert all(record["rles"]["size"] == [4, 5] for record in records)


def test_builder_refuses_cpu_after_checking_package_and_checkpoint(
    fake_semantic_sam: types.ModuleType, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="swinl_only_sam_many2many.pth"):
        build_object_source("ssam", checkpoint=tmp_path / "absent.pth", device="cpu")
    checkpoint = tmp_path / "swinl_only_sam_many2many.pth"
    checkpoint.write_bytes(b"")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        build_object_source("ssam", checkpoint=checkpoint, device="cpu")
