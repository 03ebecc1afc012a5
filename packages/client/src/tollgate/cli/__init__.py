"""Thin command-line front ends over tollgate.client and tollgate.store."""
