"""The Trainer's module: run_fn, its input pipeline, the model registry and the serving signatures."""
