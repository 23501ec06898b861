"""Loaders stream a source (features file, CIFAR, Unsplash, demo) into an items_<dataset> table."""
