"""Helpers shared by several test modules (tests never import other test modules)."""
