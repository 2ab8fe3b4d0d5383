"""Kubeflow plumbing: every task's entrypoint, the ExampleGen's preCacheCheck driver, and the
data fingerprint task."""
