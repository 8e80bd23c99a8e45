"""Fingerprints change with a file's content, the settings or the version, and say what changed."""

from __future__ import annotations

import os
from pathlib import Path

from rscommon.provenance import digest, file_identity, fingerprint, what_changed


def test_identity_follows_content_not_time(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"one")
    first = file_identity(path)
    os.utime(path, (1, 1))
    assert file_identity(path) == first
    path.write_bytes(b"two")
    assert file_identity(path) != first


def test_what_changed_names_inputs_settings_and_version(tmp_path: Path) -> None:
    pred, gt = tmp_path / "pred.png", tmp_path / "gt.png"
    pred.write_bytes(b"p")
    gt.write_bytes(b"g")
    before = fingerprint({"pred": pred, "gt": gt, "sam": None}, {"t1": 0.5}, "1")
    assert what_changed(before, fingerprint({"pred": pred, "gt": gt, "sam": None}, {"t1": 0.5}, "1")) == []
    pred.write_bytes(b"q")
    after = fingerprint({"pred": pred, "gt": gt, "sam": None}, {"t1": 0.6}, "2")
    assert what_changed(before, after) == ["version", "settings.t1", "inputs.pred"]
    assert digest(before) != digest(after) and digest(before) == digest(dict(reversed(before.items())))
