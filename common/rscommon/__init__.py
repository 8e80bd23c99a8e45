"""The ground floor every stage stands on: dataset specs, label and object files, RLE, images, metrics, paths.

It imports none of the stages (``geoseg``, ``sam_objects``, ``sessrs``) nor the pipeline above them.
"""
