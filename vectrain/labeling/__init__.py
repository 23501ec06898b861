"""Labeling sessions: state, next batches, training rounds, audit draws and the estimate they give."""
