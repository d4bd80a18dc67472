"""Code-side tools: parse a repository once (index), find and consolidate duplicated Qdrant
client modules (duplicates, codemods), archive legacy scripts (legacy), and git helpers (gitops)."""
