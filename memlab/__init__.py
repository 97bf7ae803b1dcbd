"""memlab: an educational Linux process-memory inspector.

One engine (procfs -> model -> analysis -> collect), three front ends (cli, tui, lessons).
"""

__version__ = "0.1.0"
