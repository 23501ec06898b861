"""vectrain: train image classifiers with vector SQL on ClickHouse."""

__version__ = "0.1.0"
