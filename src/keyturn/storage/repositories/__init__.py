"""All SQL lives here, one module per concept; repositories add and flush, never commit."""
