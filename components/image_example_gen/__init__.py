"""The image ExampleGen: a class-per-folder tree of image files -> tf.train.Examples."""
