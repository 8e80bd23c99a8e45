"""Segmentation networks of the GeoSeg stage, checkpoint-compatible with the paper's repository."""
