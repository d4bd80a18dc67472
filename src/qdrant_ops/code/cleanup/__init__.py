"""cleanup-legacy: archive legacy scripts, rewrite references, prune requirements, restore."""
