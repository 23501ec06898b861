"""Loaders: image folders, CIFAR, Unsplash Lite, feature files and the offline demo, all through
writer.DatasetWriter, the one insert path."""
