"""Config loading: files (JSON, YAML, TOML), ${VAR} expansion, env overlays, the verb registry."""
