"""Encoders (pixels, CLIP) and safe image decoding: what turns images and texts into vectors."""
