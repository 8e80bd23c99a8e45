"""Swin-UNet on LoveDA Urban with the paper's recipe (geoseg.recipes.swinunet).

Change a setting by naming it, e.g.
``swinunet(dataset="Urban", max_epoch=100, pretrained=False)``; every setting, and the switches from the
reference's behaviours to the corrected ones, are in geoseg/recipes.py.
"""

from geoseg.recipes import swinunet

recipe = swinunet(dataset="Urban")
