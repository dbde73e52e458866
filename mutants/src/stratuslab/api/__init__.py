"""Front ends: wire formats <-> commands.  Never import drivers, persistence or settings."""
