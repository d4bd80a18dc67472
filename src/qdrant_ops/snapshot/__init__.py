"""Qdrant's native snapshots: commands on a server, HTTP transfer, offline inspect and convert."""
