"""StatisticsGen: TFX's component with this project's options and executor."""

from __future__ import annotations

from tfx.components.statistics_gen import component as tfx_statistics_gen
from tfx.dsl.components.base import executor_spec

from components.statistics_gen.executor import Executor
from components.statistics_gen.options import statistics_options


class StatisticsGen(tfx_statistics_gen.StatisticsGen):  # the node id the runners look for
    """TFX's StatisticsGen: the same inputs, properties and artifacts; TFDV's statistics
    computed in three Beam stages (executor.py) with statistics_options()."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples, **kwargs) -> None:
        kwargs.setdefault("stats_options", statistics_options())
        super().__init__(examples=examples, **kwargs)
