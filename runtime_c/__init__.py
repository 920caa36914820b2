"""Package-data marker so that an installed kanc can locate the C runtime sources."""
