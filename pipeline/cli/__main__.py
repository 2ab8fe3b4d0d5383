"""`python -m pipeline.cli ...`: the same as the `visionpipe` console script."""

from pipeline.cli.main import console

console()
