"""Shelf: a book reader whose books are paid content add-ons (a Tollgate example product)."""
