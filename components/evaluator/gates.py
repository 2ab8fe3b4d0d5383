"""The blessing's per-class defaults, as plain values (the command line reads them without
loading TFMA; eval_config.py builds the thresholds from them)."""

# Never predicting a class is refused whatever its share of the test images; recalling one
# image in ten is the floor, not a target (raise it where every class matters). Measured on
# caltech101's 102 classes (BENCHMARKS.md, "Imbalance"), it does not refuse a good model:
# its hardest class (crocodile) is recalled at 0.31.
DEFAULT_MIN_CLASS_RECALL = 0.1
# Two trainings of one recipe move a class's recall by an image or two (0.1-0.2 on a class
# of ten test images); a larger fall is a regression a user would notice.
DEFAULT_MAX_CLASS_DROP = 0.2
