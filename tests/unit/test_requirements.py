"""memlab.requirements: what a lesson action or TUI view may require, checked here for
real (this machine's kernel, its programs), and memlab.procfs.sysctl underneath."""

from __future__ import annotations

import os

import pytest

from memlab import requirements
from memlab.procfs.sysctl import read_sysctl, read_sysctl_int, sysctl_path


@pytest.mark.parametrize("req", ["kernel:ptrace", "kernel:user-namespaces", "kernel:pidfd",
                                 "root", "program:sleeper", "program:sh"])
def test_known_kinds_are_accepted(req):
    assert requirements.check(req) == req


@pytest.mark.parametrize("req", ["kernel:", "kernel:teleport", "memlab.k8s.pod", "program:",
                                 "rootish"])
def test_anything_else_is_a_programming_error(req):
    with pytest.raises(ValueError, match="only things outside memlab"):
        requirements.check(req)


def test_kernel_features_answer_from_this_kernel():
    scope = read_sysctl_int("kernel/yama/ptrace_scope")
    assert (requirements.missing("kernel:ptrace") is None) == (scope != 3)
    limit = read_sysctl_int("user/max_user_namespaces")
    assert (requirements.missing("kernel:user-namespaces") is None) == (limit != 0)
    assert requirements.missing("kernel:pidfd") is None  # Linux >= 5.3 on every CI machine
    assert requirements.kernel("pidfd") == "kernel:pidfd"


def test_missing_program_and_root_say_why():
    assert "no-such-program-xyz" in requirements.missing("program:no-such-program-xyz")
    assert (requirements.missing("root") is None) == (os.geteuid() == 0)


def test_sysctl_reads_the_kernels_value():
    with open("/proc/sys/vm/mmap_min_addr") as f:
        assert read_sysctl_int("vm/mmap_min_addr") == int(f.read())
    assert read_sysctl("kernel/no_such_sysctl") is None
    assert read_sysctl_int("kernel/ostype") is None  # "Linux": not an integer


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../../etc/passwd", "kernel/../..",
                                  "kernel//x", "./vm"])
def test_sysctl_names_cannot_leave_proc_sys(name):
    with pytest.raises(ValueError):
        sysctl_path(name)
    with pytest.raises(ValueError):
        read_sysctl(name)
