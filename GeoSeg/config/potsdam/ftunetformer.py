"""FT-UNetFormer (Swin-B) on ISPRS Potsdam with the paper's recipe (geoseg.recipes.ftunetformer).

One recipe serves the Urban and Potsdam configs. Change a setting by naming it, e.g.
``ftunetformer(dataset="potsdam", max_epoch=100, pretrained=False)``; every setting, and the switches from the
reference's behaviours to the corrected ones, are in geoseg/recipes.py.
"""

from geoseg.recipes import ftunetformer

recipe = ftunetformer(dataset="potsdam")
