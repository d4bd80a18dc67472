"""consolidate-clients: find duplicated client modules and move the code onto one."""
