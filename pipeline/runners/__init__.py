"""The runners: the local run, the Kubeflow compiler, submit, and the local executor of a compiled spec."""
