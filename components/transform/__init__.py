"""Transform's preprocessing_fn: the one decode-and-resize that training and serving share."""
