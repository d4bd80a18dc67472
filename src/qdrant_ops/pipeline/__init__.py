"""The copy engine shared by backup, restore and migrate: scan -> transform -> write."""
