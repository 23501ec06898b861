"""Finding items: nearest neighbours with exact k under exclusions, search by examples, what to
classify, and one item with its image."""
