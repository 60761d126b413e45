"""The pathways shipped with Homeward, as package data (`*.yaml`): read with importlib.resources."""
