"""ShelfNet (ResNet-18) on LoveDA Urban with the paper's recipe (geoseg.recipes.shelfnet).

One recipe serves the Urban and Potsdam configs. Change a setting by naming it, e.g.
``shelfnet(dataset="Urban", max_epoch=100, pretrained=False)``; every setting, and the switches from the
reference's behaviours to the corrected ones, are in geoseg/recipes.py.
"""

from geoseg.recipes import shelfnet

recipe = shelfnet(dataset="Urban")
