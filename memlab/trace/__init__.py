"""The tracer: the system calls that change a process's map, and the change each made.

ptrace.py   the ptrace(2) requests, through ctypes (one thread makes them all)
decode.py   pure: a call's number, arguments and result -> names, flags, errno
mapdiff.py  pure: two /proc/PID/maps readings -> what changed (added, grown, split ...)
session.py  attach or adopt a launched process, run the stop loop, detach; trace_while
"""
