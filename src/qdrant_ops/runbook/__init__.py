"""The runbook: phases of steps with prerequisites, runs, reports, the plan file and rollback."""
