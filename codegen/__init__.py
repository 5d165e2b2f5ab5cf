"""kiln.codegen (see DESIGN.md)."""
