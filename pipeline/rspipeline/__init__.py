"""The top floor: what runs the stages together (the demo and its report, whole-scene refinement, cluster runs).

It may import every stage and the ground floor; nothing imports it.
"""
