"""Homeward's wording as package data: message catalogs, message and export templates."""
