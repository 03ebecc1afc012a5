"""Storefront and admin pages: Jinja2 templates and static files, served by the store."""
