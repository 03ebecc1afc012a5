"""Formats both sides speak: problem codes, request bodies, licences, descriptors."""
