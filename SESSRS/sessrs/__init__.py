"""SESSRS: refine semantic segmentation predictions with segment-anything object masks, without training."""
