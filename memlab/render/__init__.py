"""Pictures of a Snapshot shared by the CLI and the TUI (layout: the address-space tower)."""
