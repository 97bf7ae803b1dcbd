/* memlab.procfs._cproc: the fast paths of two /proc parsers, in C.
 *
 * Each returns the record the Python parser builds, or None for anything it does not
 * take on; the Python parser then runs, and raises the ParseError that names the
 * problem.  tests/unit/test_fuzz_parsers.py compares both on hypothesis-made input.
 * Why C (docs/benchmarks.md): for a small process parsing these two files cost more than the
 * kernel took to print them.
 *
 * parse_maps(data, Region, path_kind, known) -> list of Region
 *
 * accepts exactly what maps.py's _LINE regex accepts, line by line:
 *
 *     [0-9a-f]{1,16} "-" [0-9a-f]{1,16} " " [r-][w-][x-][sp] " " [0-9a-f]{1,16} " "
 *     [0-9a-f]{2,} ":" [0-9a-f]{2,} " " [0-9]{1,20} ( " "+ PATH )?
 *
 * and builds the same Region: path decoded UTF-8/surrogateescape (None when empty), a
 * trailing " (deleted)" stripped and flagged, kind = path_kind(path).  The dict `known`
 * (maps.py keeps it across calls) maps a path to (that path, its kind): every Region
 * with one path shares one str, as every Region with one perms shares one of 16, so the
 * next snapshot's lines compare equal by identity (the TUI's refresh and the ELF memo
 * compare whole maps).  24 lines: 25 us in Python (regex groups, int() per field), 4.8
 * us here.
 *
 * parse_stat(data, ProcStat, address_fields) -> ProcStat
 *
 * the stat.py parse_stat result; takes on only what it can do exactly: a pid and every
 * field it converts of at most 18 digits, no minus sign.  4.1 us in Python (one regex to
 * validate 50 fields), about 1 us here.
 *
 * vm_readv(pid, buffer, address) -> bytes read;  vm_writev(pid, data, address)
 *
 * process_vm_readv(2) of len(buffer) bytes at address into the writable buffer, and
 * process_vm_writev(2) (the immutable-env lesson's poke): Python has no wrapper.
 * procfs/mem.py and lessons/poke.py map the OSError to memlab's errors.
 *
 * spawn(path, argv, envp, stdin_fd, stdout_fd, stderr_fd, status_fd, parent, no_aslr,
 *       traceme) -> pid
 *
 * vfork + execve for memlab.launch, with only async-signal-safe calls in the child
 * (signal-safety(7)): no Python runs between fork and exec, so a lock another thread
 * held at fork time (the GIL, the import lock, malloc's, logging's) cannot hang the
 * child.  Follows CPython's Modules/_posixsubprocess.c: vfork with every signal blocked
 * in the parent (subprocess_fork_exec_impl), the child's caught signals reset to
 * SIG_DFL before it unblocks any (reset_signal_handlers), the stdio fds moved out of
 * the way before dup2 (child_exec), failures written to a close-on-exec pipe.
 * See launch.py for what the child does and why.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)  /* include/uapi/linux/close_range.h */
#endif

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* [0-9a-f]{min,max} at *p (< end): the value in *out; advances *p.  0 on success. */
static int hex_field(const char **p, const char *end, int min, int max,
                     unsigned long long *out) {
    const char *s = *p;
    unsigned long long v = 0;
    int n = 0;
    while (s < end && n < max + 1) {
        int h = hexval((unsigned char)*s);
        if (h < 0) break;
        v = (v << 4) | (unsigned long long)h;
        s++;
        n++;
    }
    if (n < min || n > max) return -1;
    *p = s;
    *out = v;
    return 0;
}

static int expect(const char **p, const char *end, char c) {
    if (*p >= end || **p != c) return -1;
    (*p)++;
    return 0;
}

/* The 16 perms strings "r-xp" ..., made once: index r | w << 1 | x << 2 | shared << 3 */
static PyObject *perms_table[16];

static PyObject *perms_str(const char *p) {
    int i = (p[0] == 'r') | (p[1] == 'w') << 1 | (p[2] == 'x') << 2 | (p[3] == 's') << 3;
    if (perms_table[i] == NULL) {
        perms_table[i] = PyUnicode_DecodeASCII(p, 4, NULL);
        if (perms_table[i] == NULL) return NULL;
    }
    return Py_NewRef(perms_table[i]);
}

/* (path, kind) for a decoded path (or None), from `known` or path_kind; new refs. */
static int path_and_kind(PyObject *path, PyObject *path_kind, PyObject *known,
                         PyObject **out_path, PyObject **out_kind) {
    PyObject *hit = PyDict_GetItemWithError(known, path);  /* borrowed */
    if (hit == NULL) {
        if (PyErr_Occurred()) return -1;
        PyObject *kind = PyObject_CallOneArg(path_kind, path);
        if (kind == NULL) return -1;
        hit = PyTuple_Pack(2, path, kind);
        Py_DECREF(kind);
        if (hit == NULL || PyDict_SetItem(known, path, hit) < 0) {
            Py_XDECREF(hit);
            return -1;
        }
        Py_DECREF(hit);  /* the dict holds it */
    }
    if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2) {
        PyErr_SetString(PyExc_TypeError, "known: values must be (path, kind)");
        return -1;
    }
    *out_path = Py_NewRef(PyTuple_GET_ITEM(hit, 0));
    *out_kind = Py_NewRef(PyTuple_GET_ITEM(hit, 1));
    return 0;
}

static const char DELETED[] = " (deleted)";
#define DELETED_LEN (sizeof(DELETED) - 1)

/* One line [s, end) -> a new Region, NULL with no exception when malformed, NULL with
 * an exception on a Python error. */
static PyObject *parse_line(const char *s, const char *end, PyTypeObject *region,
                            PyObject *path_kind, PyObject *known) {
    unsigned long long start, stop, offset;
    const char *p = s;
    if (hex_field(&p, end, 1, 16, &start) || expect(&p, end, '-') ||
        hex_field(&p, end, 1, 16, &stop) || expect(&p, end, ' '))
        return NULL;
    if (stop < start) return NULL;
    const char *perms = p;
    if (end - p < 5 || (p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
        (p[2] != 'x' && p[2] != '-') || (p[3] != 's' && p[3] != 'p') || p[4] != ' ')
        return NULL;
    p += 5;
    if (hex_field(&p, end, 1, 16, &offset) || expect(&p, end, ' ')) return NULL;
    const char *dev = p;
    unsigned long long ignored;
    /* major:minor, each at least 2 hex digits and unbounded (the value is not kept). */
    if (hex_field(&p, end, 2, INT_MAX - 1, &ignored) || expect(&p, end, ':') ||
        hex_field(&p, end, 2, INT_MAX - 1, &ignored))
        return NULL;
    Py_ssize_t dev_len = p - dev;
    if (expect(&p, end, ' ')) return NULL;
    const char *inode = p;
    while (p < end && *p >= '0' && *p <= '9' && p - inode <= 20) p++;
    Py_ssize_t inode_len = p - inode;
    if (inode_len < 1 || inode_len > 20) return NULL;
    const char *path = NULL;
    if (p < end) {
        if (*p != ' ') return NULL;
        while (p < end && *p == ' ') p++;
        path = p;
    }
    Py_ssize_t path_len = path ? end - path : 0;
    int deleted = path_len >= (Py_ssize_t)DELETED_LEN &&
                  memcmp(end - DELETED_LEN, DELETED, DELETED_LEN) == 0;
    if (deleted) path_len -= DELETED_LEN;

    PyObject *items[9] = {NULL};
    items[0] = PyLong_FromUnsignedLongLong(start);
    items[1] = PyLong_FromUnsignedLongLong(stop);
    items[2] = perms_str(perms);
    items[3] = PyLong_FromUnsignedLongLong(offset);
    items[4] = PyUnicode_DecodeASCII(dev, dev_len, NULL);
    if (inode_len <= 19) {
        unsigned long long v = 0;
        for (Py_ssize_t i = 0; i < inode_len; i++) v = v * 10 + (unsigned)(inode[i] - '0');
        items[5] = PyLong_FromUnsignedLongLong(v);
    } else {  /* 20 digits may pass 2**64: Python ints are unbounded */
        char buf[21];
        memcpy(buf, inode, inode_len);
        buf[inode_len] = '\0';
        items[5] = PyLong_FromString(buf, NULL, 10);
    }
    PyObject *decoded = path_len > 0
        ? PyUnicode_DecodeUTF8(path, path_len, "surrogateescape") : Py_NewRef(Py_None);
    if (decoded != NULL) {
        path_and_kind(decoded, path_kind, known, &items[6], &items[8]);
        Py_DECREF(decoded);
    }
    items[7] = PyBool_FromLong(deleted);

    PyObject *out = NULL;
    for (int i = 0; i < 9; i++)
        if (items[i] == NULL) goto fail;
    out = region->tp_alloc(region, 9);  /* as tuple_subtype_new builds a tuple subclass */
    if (out == NULL) goto fail;
    for (int i = 0; i < 9; i++) PyTuple_SET_ITEM(out, i, items[i]);
    return out;
fail:
    for (int i = 0; i < 9; i++) Py_XDECREF(items[i]);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "maps line conversion failed");
    return NULL;
}

static PyObject *parse_maps(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyType_Check(args[1]) ||
        !PyType_IsSubtype((PyTypeObject *)args[1], &PyTuple_Type) ||
        !PyCallable_Check(args[2]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "parse_maps(bytes, tuple subclass, callable, dict)");
        return NULL;
    }
    PyObject *data = args[0], *path_kind = args[2], *known = args[3];
    PyTypeObject *region = (PyTypeObject *)args[1];
    const char *s = PyBytes_AS_STRING(data);
    const char *end = s + PyBytes_GET_SIZE(data);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    while (s < end) {
        const char *nl = memchr(s, '\n', end - s);
        const char *line_end = nl ? nl : end;
        PyObject *r = parse_line(s, line_end, region, path_kind, known);
        if (r == NULL) {
            Py_DECREF(out);
            if (PyErr_Occurred()) return NULL;
            Py_RETURN_NONE;  /* malformed: the Python parser names the line */
        }
        int err = PyList_Append(out, r);
        Py_DECREF(r);
        if (err < 0) {
            Py_DECREF(out);
            return NULL;
        }
        s = nl ? nl + 1 : end;
    }
    return out;
}

/* ------------------------------------------------------------------ stat */

/* bytes.split() and the regex's \s: ASCII whitespace */
static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* An unsigned decimal of 1..18 digits in [s, s + n): its value, or -1 for anything else
 * (a sign, a longer number: left to Python's unbounded int). */
static long long small_decimal(const char *s, Py_ssize_t n) {
    if (n < 1 || n > 18) return -1;
    unsigned long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return (long long)v;  /* < 10**18 < 2**63 */
}

#define MAX_FIELDS 128  /* the kernel prints 52; more is left to Python */

static PyObject *parse_stat(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyType_Check(args[1]) ||
        !PyType_IsSubtype((PyTypeObject *)args[1], &PyTuple_Type) ||
        !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "parse_stat(bytes, tuple subclass, tuple of int)");
        return NULL;
    }
    PyTypeObject *record = (PyTypeObject *)args[1];
    PyObject *wanted = args[2];  /* the address fields' numbers, 1-based */
    Py_ssize_t n_addr = PyTuple_GET_SIZE(wanted);
    if (n_addr != 10) {
        PyErr_SetString(PyExc_ValueError, "parse_stat: 10 address fields expected");
        return NULL;
    }
    const char *s = PyBytes_AS_STRING(args[0]);
    Py_ssize_t len = PyBytes_GET_SIZE(args[0]);
    const char *end = s + len;

    /* "pid (comm)": the first " (" and the LAST ')' (comm may hold ')'). */
    const char *open = NULL;
    for (const char *p = s; p + 1 < end; p++)
        if (p[0] == ' ' && p[1] == '(') { open = p; break; }
    const char *close = NULL;
    for (const char *p = end; p > s; p--)
        if (p[-1] == ')') { close = p - 1; break; }
    if (open == NULL || open == s || close == NULL || close < open) Py_RETURN_NONE;
    long long pid = small_decimal(s, open - s);
    if (pid < 0) Py_RETURN_NONE;

    /* After comm: the state letter, then numbers of 1..20 digits with an optional '-',
     * whitespace-separated (stat.py _TAIL).  Field n (1-based) is starts[n - 3]. */
    const char *starts[MAX_FIELDS];
    Py_ssize_t lens[MAX_FIELDS];
    int count = 0;
    const char *p = close + 1;
    while (1) {
        while (p < end && is_space(*p)) p++;
        if (p == end) break;
        if (count == MAX_FIELDS) Py_RETURN_NONE;
        const char *tok = p;
        while (p < end && !is_space(*p)) p++;
        starts[count] = tok;
        lens[count] = p - tok;
        if (count == 0) {
            if (lens[0] != 1 || !((*tok >= 'A' && *tok <= 'Z') || (*tok >= 'a' && *tok <= 'z')))
                Py_RETURN_NONE;
        } else {
            const char *d = tok + (*tok == '-');
            Py_ssize_t nd = p - d;
            if (nd < 1 || nd > 20) Py_RETURN_NONE;
            for (const char *q = d; q < p; q++)
                if (*q < '0' || *q > '9') Py_RETURN_NONE;
        }
        count++;
    }
    /* fields 3 .. count + 2 exist; memlab needs up to env_end */
    long long values[12];  /* ppid, the 10 addresses, exit_code */
    int fields[12];
    fields[0] = 4;
    for (Py_ssize_t i = 0; i < n_addr; i++) {
        long f = PyLong_AsLong(PyTuple_GET_ITEM(wanted, i));
        if (f < 4 || f > MAX_FIELDS) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "parse_stat: bad field number");
            return NULL;
        }
        fields[1 + i] = (int)f;
    }
    fields[11] = 52;  /* exit_code, absent before Linux 3.5 */
    int have_exit = count + 2 >= 52;
    for (int i = 0; i < 12; i++) {
        if (i == 11 && !have_exit) break;
        int k = fields[i] - 3;
        if (k >= count) Py_RETURN_NONE;  /* too few fields: Python names them */
        values[i] = small_decimal(starts[k], lens[k]);
        if (values[i] < 0) Py_RETURN_NONE;
    }
    int masked = 1;  /* do_task_stat's masked pattern: start_code = end_code = 1, rest 0 */
    for (int i = 0; i < 10; i++)
        if (values[1 + i] != (i < 2 ? 1 : 0)) masked = 0;

    PyObject *items[16] = {NULL};
    items[0] = PyLong_FromLongLong(pid);
    items[1] = PyUnicode_DecodeUTF8(open + 2, close - (open + 2), "backslashreplace");
    items[2] = PyUnicode_DecodeASCII(starts[0], 1, NULL);
    for (int i = 0; i < 11; i++) items[3 + i] = PyLong_FromLongLong(values[i]);
    items[14] = have_exit ? PyLong_FromLongLong(values[11]) : Py_NewRef(Py_None);
    items[15] = PyBool_FromLong(masked);
    PyObject *out = NULL;
    for (int i = 0; i < 16; i++)
        if (items[i] == NULL) goto fail;
    out = record->tp_alloc(record, 16);
    if (out == NULL) goto fail;
    for (int i = 0; i < 16; i++) PyTuple_SET_ITEM(out, i, items[i]);
    return out;
fail:
    for (int i = 0; i < 16; i++) Py_XDECREF(items[i]);
    return NULL;
}

/* ------------------------------------------------------------------ memory */

/* process_vm_readv / process_vm_writev of one buffer: the same checks (PTRACE_MODE_ATTACH,
 * mm/process_vm_access.c), the same shape. */
static PyObject *vm_rw(PyObject *const *args, Py_ssize_t nargs, int write) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "(pid, buffer, address)");
        return NULL;
    }
    long pid = PyLong_AsLong(args[0]);
    if (pid == -1 && PyErr_Occurred()) return NULL;
    if (pid <= 0 || pid != (long)(pid_t)pid) {  /* (pid_t) would read another process */
        PyErr_SetString(PyExc_OverflowError, "pid out of range");
        return NULL;
    }
    unsigned long long addr = PyLong_AsUnsignedLongLong(args[2]);
    if (addr == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view,
                           (write ? PyBUF_SIMPLE : PyBUF_WRITABLE) | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    struct iovec local = {view.buf, (size_t)view.len};
    struct iovec remote = {(void *)(uintptr_t)addr, (size_t)view.len};
    ssize_t n;
    int err;
    Py_BEGIN_ALLOW_THREADS  /* a big read (memlab search) lets the TUI thread run */
    n = write ? process_vm_writev((pid_t)pid, &local, 1, &remote, 1, 0)
              : process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
    err = errno;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (n < 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromSsize_t(n);
}

static PyObject *vm_readv(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    return vm_rw(args, nargs, 0);
}

static PyObject *vm_writev(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    return vm_rw(args, nargs, 1);
}

/* ------------------------------------------------------------------ spawn */

/* The stages the child reports through the status pipe; the module's SPAWN_STAGES names
   them for memlab/launch.py's error message (one table, here). */
enum { ST_PDEATHSIG = 1, ST_PERSONALITY = 2, ST_TRACEME = 3, ST_EXECVE = 4, ST_SETUP = 5,
       ST_CHDIR = 6 };

struct spawn_args {
    const char *path;
    char *const *argv;
    char *const *envp;
    int fds[3];  /* become 0, 1, 2 */
    int status_fd;
    pid_t parent;
    int no_aslr, traceme;
    int cwd_fd;  /* fchdir here first; -1: the parent's working directory */
};

/* (stage, errno) as two native ints, then _exit: the parent reads them (struct "ii"). */
__attribute__((noreturn)) static void child_fail(int status_fd, int stage, int err) {
    int msg[2] = {stage, err ? err : EIO};
    ssize_t unused = write(status_fd, msg, sizeof msg);
    (void)unused;
    _exit(127);
}

/* _posixsubprocess.c reset_signal_handlers: a handler the parent installed (Python's
 * C-level trip_signal writes to the wakeup fd and flags memory the vfork child shares)
 * must never run in the child; execve resets caught signals anyway. */
static void reset_signal_handlers(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) != 0)
            continue;  /* glibc's internal signals give EINVAL */
        if ((sa.sa_flags & SA_SIGINFO) ||  /* an sa_sigaction: never SIG_IGN/SIG_DFL */
            (sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL))
            (void)sigaction(sig, &dfl, NULL);
    }
}

/* Runs in the vfork child: async-signal-safe calls only (signal-safety(7)), no malloc,
 * no Python; it shares the parent's memory until execve, so it writes none of it but
 * its own stack and errno. */
__attribute__((noreturn)) static void child_exec(const struct spawn_args *a) {
    int fd[3];
    sigset_t none;
    struct sigaction dfl;

    reset_signal_handlers();
    /* prctl(2): dies with the thread that forked it; if that parent is already gone
     * the signal will never come, so check getppid() after arming it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        child_fail(a->status_fd, ST_PDEATHSIG, errno);
    if (getppid() != a->parent)
        _exit(1);
    /* Its own process group: memlab kills the group (memlab/reaper.py). */
    if (setpgid(0, 0) != 0)
        child_fail(a->status_fd, ST_SETUP, errno);
    /* Move the three fds above 2 first (_posixsubprocess.c child_exec: one of them may
     * be 0, 1 or 2 already and be overwritten by an earlier dup2); the copies are
     * close-on-exec, the dup2 targets are not. */
    for (int i = 0; i < 3; i++) {
        fd[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, 3);
        if (fd[i] < 0)
            child_fail(a->status_fd, ST_SETUP, errno);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(fd[i], i) < 0)
            child_fail(a->status_fd, ST_SETUP, errno);
    /* Every other fd closes on exec (close_range(2), Linux 5.11; Python's own fds are
     * close-on-exec already, PEP 446: this catches what C libraries opened).  An older
     * kernel says EINVAL/ENOSYS: those fds then stay as they were. */
    (void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    /* Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across
     * execve (signal(7)): give the program the defaults, as subprocess does
     * (_Py_RestoreSignals).  Then the empty mask: the parent blocked everything. */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    if (sigaction(SIGPIPE, &dfl, NULL) != 0 || sigaction(SIGXFSZ, &dfl, NULL) != 0)
        child_fail(a->status_fd, ST_SETUP, errno);
    /* A held directory fd, not a path: nothing is looked up again (the core-dump demo
     * starts its process in a directory memlab checked and holds open). */
    if (a->cwd_fd >= 0 && fchdir(a->cwd_fd) != 0)
        child_fail(a->status_fd, ST_CHDIR, errno);
    if (a->no_aslr) {  /* setarch -R */
        int cur = personality(0xffffffff);
        if (cur == -1 || personality((unsigned long)cur | ADDR_NO_RANDOMIZE) == -1)
            child_fail(a->status_fd, ST_PERSONALITY, errno);
    }
    if (a->traceme && ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
        child_fail(a->status_fd, ST_TRACEME, errno);
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        child_fail(a->status_fd, ST_SETUP, errno);
    execve(a->path, a->argv, a->envp);
    child_fail(a->status_fd, ST_EXECVE, errno);
}

/* Out of line, as _posixsubprocess.c do_fork_exec: the child's frame is its own. */
static pid_t __attribute__((noinline)) do_vfork_exec(const struct spawn_args *a) {
    pid_t pid = vfork();
    if (pid == 0)
        child_exec(a);
    return pid;
}

/* A NULL-terminated char* array pointing into the bytes of `seq` (a tuple or list the
 * caller keeps alive).  PyMem_Free it. */
static char **char_array(PyObject *fast) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    char **out = PyMem_New(char *, n + 1);
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "argv and envp must hold bytes");
            PyMem_Free(out);
            return NULL;
        }
        out[i] = PyBytes_AS_STRING(item);
        if ((size_t)PyBytes_GET_SIZE(item) != strlen(out[i])) {
            PyErr_SetString(PyExc_ValueError, "embedded NUL byte");
            PyMem_Free(out);
            return NULL;
        }
    }
    out[n] = NULL;
    return out;
}

static PyObject *spawn(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError, "spawn(path, argv, envp, stdin_fd, stdout_fd, "
                        "stderr_fd, status_fd, parent, no_aslr, traceme, cwd_fd)");
        return NULL;
    }
    struct spawn_args a;
    long ints[5];
    for (int i = 0; i < 5; i++) {
        ints[i] = PyLong_AsLong(args[3 + i]);
        if (ints[i] == -1 && PyErr_Occurred()) return NULL;
        if (ints[i] < 0 || ints[i] > INT_MAX) {
            PyErr_SetString(PyExc_ValueError, "fds and parent must be >= 0");
            return NULL;
        }
    }
    a.fds[0] = (int)ints[0];
    a.fds[1] = (int)ints[1];
    a.fds[2] = (int)ints[2];
    a.status_fd = (int)ints[3];
    a.parent = (pid_t)ints[4];
    a.no_aslr = PyObject_IsTrue(args[8]);
    a.traceme = PyObject_IsTrue(args[9]);
    if (a.no_aslr < 0 || a.traceme < 0) return NULL;
    long cwd_fd = PyLong_AsLong(args[10]);
    if (cwd_fd == -1 && PyErr_Occurred()) return NULL;
    if (cwd_fd < -1 || cwd_fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "cwd_fd must be a descriptor or -1");
        return NULL;
    }
    a.cwd_fd = (int)cwd_fd;
    if (!PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "path must be bytes");
        return NULL;
    }
    a.path = PyBytes_AS_STRING(args[0]);
    if ((size_t)PyBytes_GET_SIZE(args[0]) != strlen(a.path)) {
        PyErr_SetString(PyExc_ValueError, "embedded NUL byte");
        return NULL;
    }
    PyObject *argv_fast = PySequence_Fast(args[1], "argv must be a sequence");
    PyObject *envp_fast = argv_fast ? PySequence_Fast(args[2], "envp must be a sequence")
                                    : NULL;
    char **argv = NULL, **envp = NULL;
    PyObject *result = NULL;
    if (envp_fast == NULL) goto done;
    if ((argv = char_array(argv_fast)) == NULL) goto done;
    if ((envp = char_array(envp_fast)) == NULL) goto done;
    a.argv = argv;
    a.envp = envp;

    /* Every signal blocked while the child shares our memory (_posixsubprocess.c): no
     * handler may run in it before reset_signal_handlers.  The GIL stays held, so no
     * other Python thread changes what the child reads; vfork returns when the child
     * has exec'd or exited. */
    sigset_t all, old;
    sigfillset(&all);
    int err = pthread_sigmask(SIG_BLOCK, &all, &old);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    pid_t pid = do_vfork_exec(&a);
    int saved = errno;
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = saved;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    result = PyLong_FromLong((long)pid);
done:
    PyMem_Free(argv);
    PyMem_Free(envp);
    Py_XDECREF(argv_fast);
    Py_XDECREF(envp_fast);
    return result;
}

/* ------------------------------------------------------------------ reaper */

/* reaper_fork(stdin_fd, session, since) -> pid
 *
 * memlab/reaper.py's main() in C, for the one memlab that cannot exec its interpreter
 * to run the Python one: a copy of root's memlab that dropped to a uid which may not
 * read /root (0700, where pyenv keeps Python).  Forked, not exec'd, so the child runs
 * only async-signal-safe calls (signal-safety(7)) on its own copy of this file's static
 * memory: read, open, getdents64, kill, nanosleep.  The protocol and the checks are
 * reaper.py's (see its docstring): "+PGID" / "-PGID" lines until end of file, then
 * SIGKILL every group still known that has a live member in `session` started at or
 * after `since`, until none is left or KILL_PATIENCE (5 s) has passed. */
#define REAPER_MAX 4096
static int reaper_groups[REAPER_MAX];
static int reaper_count;
static char reaper_buf[65536];

static void reaper_add(int pgid) {
    for (int i = 0; i < reaper_count; i++)
        if (reaper_groups[i] == pgid) return;
    if (reaper_count < REAPER_MAX) reaper_groups[reaper_count++] = pgid;
}

static void reaper_drop(int pgid) {
    for (int i = 0; i < reaper_count; i++)
        if (reaper_groups[i] == pgid) {
            reaper_groups[i] = reaper_groups[--reaper_count];
            return;
        }
}

/* Field n (1-based: proc(5)) of a stat line, from after the last ')' (the comm field
 * may hold anything: fs/proc/array.c do_task_stat). NULL if absent. */
static const char *stat_field(const char *data, ssize_t len, int n) {
    const char *p = NULL;
    for (ssize_t i = len - 1; i >= 0; i--)
        if (data[i] == ')') { p = data + i + 1; break; }
    if (p == NULL) return NULL;
    const char *end = data + len;
    for (int f = 3; p < end; f++) {  /* p is at the space before field f */
        while (p < end && *p == ' ') p++;
        if (p >= end) return NULL;
        if (f == n) return p;
        while (p < end && *p != ' ') p++;
    }
    return NULL;
}

static long long num_at(const char *p) {
    long long v = 0;
    int neg = (*p == '-');
    if (neg) p++;
    while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return neg ? -v : v;
}

/* Does group `pgid` still have a live member of ours?  One pass over /proc. */
static int reaper_scan(int *live, long session, unsigned long long since) {
    int found = 0;
    for (int i = 0; i < reaper_count; i++) live[i] = 0;
    int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return 0;
    for (;;) {
        long n = syscall(SYS_getdents64, dir, reaper_buf, sizeof reaper_buf);
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            struct { unsigned long long ino; long long off; unsigned short reclen;
                     unsigned char type; char name[]; } *d = (void *)(reaper_buf + off);
            off += d->reclen;
            if (d->name[0] < '1' || d->name[0] > '9') continue;
            char path[64] = "/proc/";
            size_t k = 6;
            for (const char *c = d->name; *c && k < sizeof path - 6; c++) path[k++] = *c;
            memcpy(path + k, "/stat", 6);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            char stat[1024];
            ssize_t len = read(fd, stat, sizeof stat - 1);
            close(fd);
            if (len <= 0) continue;
            stat[len] = 0;
            const char *st = stat_field(stat, len, 3), *pg = stat_field(stat, len, 5);
            const char *sid = stat_field(stat, len, 6), *start = stat_field(stat, len, 22);
            if (!st || !pg || !sid || !start || *st == 'Z' || *st == 'X') continue;
            if (num_at(sid) != session || (unsigned long long)num_at(start) < since)
                continue;
            long long g = num_at(pg);
            for (int i = 0; i < reaper_count; i++)
                if (reaper_groups[i] == g && !live[i]) { live[i] = 1; found++; }
        }
    }
    close(dir);
    return found;
}

__attribute__((noreturn)) static void reaper_main(int in_fd, long session,
                                                  unsigned long long since) {
    static int live[REAPER_MAX];
    static char line[32];
    size_t used = 0;
    for (;;) {
        char c;
        ssize_t n = read(in_fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (c != '\n') {
            if (used < sizeof line - 1) line[used++] = c;
            continue;
        }
        line[used] = 0;
        if (used > 1 && (line[0] == '+' || line[0] == '-')) {
            long long g = num_at(line + 1);
            if (g > 1 && g <= INT_MAX) {
                if (line[0] == '+') reaper_add((int)g);
                else reaper_drop((int)g);
            }
        }
        used = 0;
    }
    struct timespec now, deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 5;  /* reaper.py KILL_PATIENCE */
    long delay_ns = 1000000;
    while (reaper_count && reaper_scan(live, session, since)) {
        for (int i = 0; i < reaper_count; i++)
            if (live[i]) (void)kill(-reaper_groups[i], SIGKILL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
            break;
        struct timespec pause = {0, delay_ns};
        nanosleep(&pause, NULL);
        if (delay_ns < 50000000) delay_ns *= 2;
    }
    _exit(0);
}

static PyObject *reaper_fork(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "reaper_fork(stdin_fd, session, since)");
        return NULL;
    }
    long in_fd = PyLong_AsLong(args[0]);
    if (in_fd == -1 && PyErr_Occurred()) return NULL;
    long session = PyLong_AsLong(args[1]);
    if (session == -1 && PyErr_Occurred()) return NULL;
    unsigned long long since = PyLong_AsUnsignedLongLong(args[2]);
    if (since == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (in_fd < 0 || in_fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "bad fd");
        return NULL;
    }
    sigset_t all, old;
    sigfillset(&all);
    int err = pthread_sigmask(SIG_BLOCK, &all, &old);
    if (err) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction ign;
        sigset_t none;
        reset_signal_handlers();
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        (void)sigaction(SIGINT, &ign, NULL);
        (void)sigaction(SIGTERM, &ign, NULL);
        (void)sigaction(SIGHUP, &ign, NULL);
        (void)sigaction(SIGPIPE, &ign, NULL);
        (void)setsid();  /* the terminal's ^C and hangup do not reach it */
        if (dup2((int)in_fd, 0) < 0) _exit(1);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            (void)dup2(null, 1);
            (void)dup2(null, 2);
        }
        /* It holds none of memlab's pipes (a `| cat` would wait for it). */
        if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
            for (int fd = 3; fd < 65536; fd++) (void)close(fd);
        (void)chdir("/");
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        reaper_main(0, session, since);
    }
    int saved = errno;
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong((long)pid);
}

static PyMethodDef cproc_methods[] = {
    {"parse_maps", (PyCFunction)(void (*)(void))parse_maps, METH_FASTCALL,
     "parse_maps(data, Region, path_kind, known) -> list of Region, or None"},
    {"parse_stat", (PyCFunction)(void (*)(void))parse_stat, METH_FASTCALL,
     "parse_stat(data, ProcStat, address_fields) -> ProcStat, or None"},
    {"vm_readv", (PyCFunction)(void (*)(void))vm_readv, METH_FASTCALL,
     "vm_readv(pid, buffer, address) -> bytes read (process_vm_readv(2); OSError)"},
    {"vm_writev", (PyCFunction)(void (*)(void))vm_writev, METH_FASTCALL,
     "vm_writev(pid, data, address) -> bytes written (process_vm_writev(2); OSError)"},
    {"spawn", (PyCFunction)(void (*)(void))spawn, METH_FASTCALL,
     "spawn(path, argv, envp, stdin_fd, stdout_fd, stderr_fd, status_fd, parent, "
     "no_aslr, traceme) -> pid (vfork + execve; failures via status_fd)"},
    {"reaper_fork", (PyCFunction)(void (*)(void))reaper_fork, METH_FASTCALL,
     "reaper_fork(stdin_fd, session, since) -> pid (memlab.reaper's main, in C)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cproc_module = {
    PyModuleDef_HEAD_INIT, "_cproc",
    "C fast paths of memlab.procfs.maps.parse_maps and stat.parse_stat; process_vm_*v; "
    "spawn (vfork + execve for memlab.launch).",
    -1,
    cproc_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cproc(void) {
    PyObject *m = PyModule_Create(&cproc_module);
    if (m == NULL)
        return NULL;
    PyObject *stages = Py_BuildValue(
        "{i:s,i:s,i:s,i:s,i:s,i:s}", ST_PDEATHSIG, "prctl(PR_SET_PDEATHSIG)",
        ST_PERSONALITY, "personality(ADDR_NO_RANDOMIZE)", ST_TRACEME,
        "ptrace(PTRACE_TRACEME)", ST_EXECVE, "execve", ST_SETUP, "child setup",
        ST_CHDIR, "fchdir (the working directory)");
    if (stages == NULL || PyModule_AddObject(m, "SPAWN_STAGES", stages) < 0) {
        Py_XDECREF(stages);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
