"""The Evaluator: the blessing's config and the component that compares with the served model."""
