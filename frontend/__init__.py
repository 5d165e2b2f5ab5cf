"""kiln.frontend (see DESIGN.md)."""
