"""The pictures that explain a run.

The Trainer draws how it trained (training.py: the curves, and one validation image per
class through the convolutions); the Evaluator draws the verdict on the split that decides
the blessing (verdict.py: the confusion matrix, the most confident mistakes, where the
model looked). figures.py and grad_cam.py do the drawing; report.html shows them all.
"""
