"""Multi-class sessions."""
