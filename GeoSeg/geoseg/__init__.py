"""GeoSeg stage: remote-sensing semantic segmentation models, datasets and training recipes."""
