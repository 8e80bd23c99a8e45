"""The demo on the embedded real tiles: GeoSeg training and prediction, object masks, the t1/t2 sweep, pick and
application under two protocols, the refinement peers side by side, an offline report and a closing summary.

Modules by job: ``samples`` (sample sets and tiles), ``stages`` (the stages' scripts), ``objects`` (which object
source), ``protocols`` (folds and SESSRS tuning), ``scores`` (peers and figures), ``assembly`` (the report's
content), ``summary`` (the closing table), ``console`` (the quiet terminal and the logs), ``run`` (all of it).
"""

from .console import StageError
from .run import run_demo
from .samples import SAMPLE_SETS
from .settings import DemoSettings

__all__ = ["SAMPLE_SETS", "DemoSettings", "StageError", "run_demo"]
