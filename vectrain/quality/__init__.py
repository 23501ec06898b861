"""Whole-dataset audits: suspected label errors and near-duplicates."""
