"""StatisticsGen: TFX's component and artifacts, TFDV's statistics, a Beam graph of three
stages (options.py says which statistics, executor.py how they are computed)."""
