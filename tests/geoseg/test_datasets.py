"""GeoSeg datasets and augmentations: label conventions, lazy folders, the embedded sample tiles, and that
every augmentation moves an image and its mask together."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import torch
from image_files import pixels
from PIL import Image

from geoseg.datasets import (
    ClassAwareRandomCrop,
    PotsdamDataset,
    SampleDataset,
    SegmentationFolder,
    UrbanDataset,
    train_transform,
    val_transform,
)
from geoseg.datasets.augment import SCALES, PILRandomScale, random_scale
from geoseg.datasets.labels import isprs_mmseg_to_geoseg, loveda_to_geoseg
from rscommon.paths import REAL_SAMPLES

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def test_loveda_codes_follow_geoseg_convention():
    raw = np.arange(8, dtype=np.uint8)
    expected = raw.copy()
    expected[expected == 0] = 8
    expected -= 1
    np.testing.assert_array_equal(loveda_to_geoseg(raw), expected)
    with pytest.raises(ValueError, match="0..7"):
        loveda_to_geoseg(np.array([9], dtype=np.uint8))


def test_isprs_codes_follow_geoseg_convention():
    codes = np.arange(7, dtype=np.uint8)
    np.testing.assert_array_equal(isprs_mmseg_to_geoseg(codes), [6, 0, 1, 2, 3, 4, 5])
    with pytest.raises(ValueError):
        isprs_mmseg_to_geoseg(np.array([7], dtype=np.uint8))


def test_reference_datasets_open_their_folders_lazily(tmp_path):
    urban = UrbanDataset("train", train=True, root=tmp_path / "Urban")
    potsdam = PotsdamDataset("val", root=tmp_path / "potsdam")
    for dataset in (urban, potsdam):
        with pytest.raises(FileNotFoundError, match=str(tmp_path)):
            len(dataset)


def test_sample_tiles_load_with_converted_labels():
    loveda = SampleDataset("loveda")
    assert loveda.img_ids == ["mmseg_0", "mmseg_1", "mmseg_2"]
    item = loveda[0]
    raw = pixels(REAL_SAMPLES / "loveda" / "mmseg_0_mask.png")
    np.testing.assert_array_equal(item["gt_semantic_seg"].numpy(), loveda_to_geoseg(raw))
    assert item["img"].shape == (3, 1024, 1024)
    for source in ("potsdam", "vaihingen"):
        sample = SampleDataset(source)
        labels = sample[0]["gt_semantic_seg"].numpy()
        assert len(sample) == 1 and labels.shape == (512, 512) and labels.max() <= 6


def test_folder_reports_images_without_masks(tmp_path):
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "b.png")
    Image.new("L", (8, 8)).save(tmp_path / "masks" / "a.png")
    with pytest.raises(FileNotFoundError, match="b"):
        len(SegmentationFolder(tmp_path, val_transform()))


def coded_pair(size: int = 240, block: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A mask of class blocks and an image whose pixel values spell each pixel's class."""
    rows, cols = np.indices((size, size)) // block
    mask = ((rows * 3 + cols) % 5).astype(np.uint8)
    image = np.stack([40 * mask + 30, 40 * mask + 30, np.full_like(mask, 200)], axis=-1).astype(np.uint8)
    return image, mask


def decode_classes(normalised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undo the ImageNet normalisation and read back the class spelled by each pixel (and the padding)."""
    pixels = np.rint((normalised * STD + MEAN) * 255)
    return np.rint((pixels[..., 0] - 30) / 40), pixels[..., 2] == 0


@pytest.mark.parametrize("seed", range(6))
def test_training_augmentation_moves_image_and_mask_together(seed):
    ignore = 8
    image, mask = coded_pair()
    out = A.Compose(train_transform(96, ignore).transforms, seed=seed)(image=image, mask=mask)
    assert out["image"].shape == (96, 96, 3) and out["mask"].shape == (96, 96)
    classes, padded = decode_classes(out["image"])
    labelled = out["mask"] != ignore
    np.testing.assert_array_equal(padded, ~labelled)
    # Bicubic resizing blurs the image at class borders only; everywhere else the spelled class is the mask.
    agreement = np.mean(classes[labelled] == out["mask"][labelled])
    assert agreement > 0.9


def test_flips_and_rotation_are_applied_to_both():
    image, mask = coded_pair(size=120, block=40)
    for transform in (A.HorizontalFlip(p=1), A.VerticalFlip(p=1), A.RandomRotate90(p=1)):
        out = A.Compose([transform, A.Normalize()], seed=1)(image=image, mask=mask)
        classes, _ = decode_classes(out["image"])
        np.testing.assert_array_equal(classes, out["mask"])
        assert not np.array_equal(out["mask"], mask)


def balanced_fraction(crop: A.BasicTransform, mask: np.ndarray, trials: int = 60) -> float:
    image = np.zeros(mask.shape + (3,), dtype=np.uint8)
    pipeline = A.Compose([crop], seed=3)
    hits = 0
    for _ in range(trials):
        counts = np.bincount(pipeline(image=image, mask=mask)["mask"].ravel(), minlength=2)
        hits += counts.min() > 0 and counts.max() / counts.sum() < 0.75
    return hits / trials


def test_class_aware_crop_prefers_mixed_crops():
    mask = np.zeros((100, 400), dtype=np.uint8)
    mask[:, 200:] = 1
    aware = balanced_fraction(ClassAwareRandomCrop(100, ignore_index=8), mask)
    plain = balanced_fraction(A.RandomCrop(100, 100), mask)
    assert aware > 0.6 and plain < 0.4


def test_class_aware_crop_pads_small_images_with_ignore():
    image = np.full((50, 40, 3), 255, dtype=np.uint8)
    mask = np.ones((50, 40), dtype=np.uint8)
    out = A.Compose([ClassAwareRandomCrop(64, ignore_index=6)], seed=0)(image=image, mask=mask)
    assert out["mask"].shape == (64, 64)
    np.testing.assert_array_equal(out["mask"] == 6, out["image"][..., 0] == 0)
    assert (out["mask"] == 1).sum() == 50 * 40


def reference_random_scale(image: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``RandomScale`` (GeoSeg ``transform.py``) re-implemented on arrays: PIL images, the new size
    ``int(scale * side)`` from ``img.size``, PIL bicubic for the image and PIL nearest for the mask."""
    img, msk = Image.fromarray(image), Image.fromarray(mask)
    oh, ow = img.size
    h, w = int(scale * oh), int(scale * ow)
    return np.array(img.resize((w, h), Image.BICUBIC)), np.array(msk.resize((w, h), Image.NEAREST))


def test_scale_augmentation_resizes_like_the_reference():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
    mask = rng.integers(0, 6, (60, 60), dtype=np.uint8)
    seen = set()
    for seed in range(12):
        out = A.Compose([PILRandomScale()], seed=seed)(image=image, mask=mask)
        scale = out["image"].shape[0] / 60
        assert scale in SCALES
        want_image, want_mask = reference_random_scale(image, mask, scale)
        np.testing.assert_array_equal(out["image"], want_image)
        np.testing.assert_array_equal(out["mask"], want_mask)
        seen.add(scale)
    assert len(seen) >= 4, "the scale is drawn from all five factors"


def test_pil_scale_antialiases_when_shrinking_and_cv2_is_the_switch():
    stripes = ((np.arange(64) // 2) % 2 * 255).astype(np.uint8)  # 2 dark, 2 bright columns: Nyquist after halving
    image = np.repeat(np.tile(stripes, (64, 1))[..., None], 3, axis=2)
    mask = np.zeros((64, 64), np.uint8)
    half = (0.5,)
    pil = A.Compose([random_scale(half, "pil")], seed=0)(image=image, mask=mask)["image"]
    cv2_out = A.Compose([random_scale(half, "cv2")], seed=0)(image=image, mask=mask)["image"]
    assert pil.shape == cv2_out.shape == (32, 32, 3)
    assert np.ptp(cv2_out[8:-8, 8:-8]) == 255, "cv2 bicubic samples without low-pass filtering"
    assert np.ptp(pil[8:-8, 8:-8]) < 200, "PIL bicubic low-pass filters when shrinking: the stripes lose contrast"
    with pytest.raises(ValueError, match="pil"):
        random_scale(half, "skimage")


def test_training_items_are_the_same_for_the_same_torch_seed():
    dataset = SampleDataset("potsdam", train=True, crop_size=64, repeats=3)
    torch.manual_seed(7)
    first = [dataset[i] for i in range(3)]
    torch.manual_seed(7)
    second = [dataset[i] for i in range(3)]
    for a, b in zip(first, second):
        assert torch.equal(a["img"], b["img"]) and torch.equal(a["gt_semantic_seg"], b["gt_semantic_seg"])
    assert not torch.equal(first[0]["img"], first[1]["img"]), "different items draw different augmentations"
