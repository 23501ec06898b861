"""Settings, typed errors, names, limits and small helpers every layer uses; imports nothing of vectrain's."""
