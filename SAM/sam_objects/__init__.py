"""SAM stage of SESSRS: per-image object masks (COCO-RLE JSON) from SAM, HQ-SAM, Semantic-SAM or a weight-free
region source, resumable, on GPU or CPU."""
