"""A painting changed class by class holds what a painting made at once holds: the same output and, for every pair
of refined classes, the same settlement of every common pixel (a class that stays refined is repainted only near
the pixels it changes, and its settlements elsewhere are kept)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sessrs.joint_engine import OFF, ClassSetting, ImageEvaluator, with_setting
from sessrs.modes import FAITHFUL, IMPROVED
from sessrs.painting import Painting, Settlement
from sessrs.prepared import prepare_image
from sessrs.synthetic import URBAN_LIKE, make_image

T1 = (0.3, 0.5, 0.7, 0.9)
T2 = (0.3, 0.55, 0.8)
NONE = Settlement(np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0))


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    improved=st.booleans(),
    changes=st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from(T1), st.sampled_from(T2), st.booleans()), min_size=4, max_size=12
    ),
)
def test_a_painting_changed_class_by_class_equals_one_made_at_once(seed, improved, changes):
    options = IMPROVED if improved else FAITHFUL
    gt, pred, objects = make_image(np.random.default_rng(seed), 192, URBAN_LIKE.at_density(160))
    scene = prepare_image(pred, objects, 7)
    evaluator = ImageEvaluator(scene, gt, max_objects=5, options=options)
    start = tuple(ClassSetting(0.5, 0.55, True) for _ in range(scene.num_classes))
    evaluator.commit(start)
    for cls, t1, t2, refined in changes:
        setting = ClassSetting(t1, t2, True) if refined else OFF
        evaluator.commit(with_setting(evaluator.settings, cls, setting))
        refinements, modify = evaluator.refinements(evaluator.settings)
        whole = Painting(scene, options).change({c: refinements[c] for c in modify}, modify)
        painting = evaluator.painting
        expected = scene.flat_pred.copy()
        expected[whole.pixels] = whole.values
        assert np.array_equal(painting.values, expected)
        for pair in {*painting.settlements, *whole.settlements}:  # a pair with no common pixel may be left out
            kept, settled = painting.settlements.get(pair, NONE), whole.settlements.get(pair, NONE)
            for name in ("pixels", "winner", "score"):
                assert np.array_equal(getattr(kept, name), getattr(settled, name)), (pair, name)
