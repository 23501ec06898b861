"""Sessions with classes: one pass over 2 to 100 classes (vectrain.labeling.sessions hands them here).

model.py     the session's classes and start vectors, its rounds (a weight row and a bias per
             class), label counts per class
training.py  the softmax trainer with a label-set prior, its cross-fitted metrics, and the
             scoring of a block of items (top class, probability, margin)
sessions.py  create (round 0 from a label set, examples, both or neither), describe, train
labels.py    labels by class, with the provenance and audit rules of binary labels
scoring.py   every item scored per round, in the background, into class_scores
batches.py   next batches from a round's scores: balanced (default), margin, top, random
vectors.py   the vectors of labeled items and batch candidates, kept in this process
estimate.py  the accuracy estimate from audit draws (Jeffreys intervals)
publish.py   apply, the SQL function and view, predictions by class or margin, weights
"""
