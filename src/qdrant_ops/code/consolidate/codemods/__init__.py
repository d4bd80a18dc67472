"""libcst transformers used by consolidate-clients, one per file."""
