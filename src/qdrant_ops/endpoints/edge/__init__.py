"""Qdrant Edge: the in-process engine, one shard per directory."""
