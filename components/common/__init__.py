"""Shared vocabulary of every component: feature and file names, settings, the image spec, paths."""
