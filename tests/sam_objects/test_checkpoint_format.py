"""A checkpoint that is not a PyTorch file (an error page saved under its name, an empty or truncated download) is
refused when the recipe is checked, before any model is built or any image read."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rscommon.files import InputError
from sam_objects import source_recipe


@pytest.mark.parametrize("content", [b"", b"<html>404 Not Found</html>", b"PK\x03\x04 truncated"])
def test_a_checkpoint_that_is_not_a_pytorch_file_is_refused_up_front(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "sam_vit_b_01ec64.pth"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"not a PyTorch checkpoint .* download sam_vit_b_01ec64.pth again from"):
        source_recipe("sam", model_type="vit_b", checkpoint=path).check()


@pytest.mark.parametrize("legacy", [False, True])
def test_a_pytorch_file_passes_the_check(tmp_path: Path, legacy: bool) -> None:
    path = tmp_path / "weights.pth"
    torch.save({"w": torch.zeros(2)}, path, _use_new_zipfile_serialization=not legacy)
    source_recipe("sam", model_type="vit_b", checkpoint=path).check()
