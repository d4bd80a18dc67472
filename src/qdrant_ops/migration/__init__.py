"""Migration to a new layout: run, plan, transforms, validation, cutover and reports."""
