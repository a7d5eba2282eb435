"""Where things are kept: objects (files) and metadata (rows)."""
