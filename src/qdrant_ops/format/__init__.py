"""The backup format: Arrow columns, payload JSON, vectors, content digests, comparison."""
