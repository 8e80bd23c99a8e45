"""Turn the datasets as downloaded into GeoSeg's layout (the logic behind ``GeoSeg/tools/``)."""
