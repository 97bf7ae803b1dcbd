"""Modal screens: launch panel, process picker, help."""
