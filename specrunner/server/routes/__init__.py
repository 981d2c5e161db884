"""Endpoint groups of the embedded provider; each module exposes `ROUTES`."""
