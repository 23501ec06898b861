"""Analysts' SQL: statements checked against allow-lists with the engine's parser, run with limits."""
