"""Step kinds of the runbook, each with its config, defaults, run and rollback."""
