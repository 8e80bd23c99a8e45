"""SegFormer-B3 on LoveDA Urban with the paper's recipe (geoseg.recipes.segformer).

One recipe serves the Urban and Potsdam configs. Change a setting by naming it, e.g.
``segformer(dataset="Urban", max_epoch=100, pretrained=False)``; every setting, and the switches from the
reference's behaviours to the corrected ones, are in geoseg/recipes.py.
"""

from geoseg.recipes import segformer

recipe = segformer(dataset="Urban")
