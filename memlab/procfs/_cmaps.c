/* memlab.procfs._cmaps: the fast path of memlab.procfs.maps.parse_maps, in C.
 *
 * parse(data, Region, kind_of) -> list of Region, or None when any line is not a
 * well-formed maps line (parse_maps then goes line by line in Python to name it).
 *
 * It accepts exactly what maps.py's _LINE regex accepts, line by line:
 *
 *     [0-9a-f]{1,16} "-" [0-9a-f]{1,16} " " [r-][w-][x-][sp] " " [0-9a-f]{1,16} " "
 *     [0-9a-f]{2,} ":" [0-9a-f]{2,} " " [0-9]{1,20} ( " "+ PATH )?
 *
 * and builds the same Region: path decoded UTF-8/surrogateescape (None when empty), a
 * trailing " (deleted)" stripped and flagged, kind = kind_of(path) (maps.py passes its
 * memoised path_kind).  tests/unit/test_maps.py compares the two on hypothesis-made text.
 * Why C: a 24-line maps file took 25 us to parse in Python (regex groups + int() per
 * field), as long as the kernel takes to print it; this takes about 3 us (issue 2).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

static const char DELETED[] = " (deleted)";
#define DELETED_LEN (sizeof(DELETED) - 1)

/* One line [s, end) -> a new Region, NULL with no exception when malformed, NULL with
 * an exception on a Python error. */
static PyObject *parse_line(const char *s, const char *end, PyTypeObject *region,
                            PyObject *kind_of) {
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
    items[2] = PyUnicode_DecodeASCII(perms, 4, NULL);
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
    items[6] = path_len > 0 ? PyUnicode_DecodeUTF8(path, path_len, "surrogateescape")
                            : Py_NewRef(Py_None);
    items[7] = PyBool_FromLong(deleted);
    if (items[6]) items[8] = PyObject_CallOneArg(kind_of, items[6]);

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

static PyObject *cmaps_parse(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyType_Check(args[1]) ||
        !PyType_IsSubtype((PyTypeObject *)args[1], &PyTuple_Type) ||
        !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "parse(bytes, tuple subclass, callable)");
        return NULL;
    }
    PyObject *data = args[0], *kind_of = args[2];
    PyTypeObject *region = (PyTypeObject *)args[1];
    const char *s = PyBytes_AS_STRING(data);
    const char *end = s + PyBytes_GET_SIZE(data);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    while (s < end) {
        const char *nl = memchr(s, '\n', end - s);
        const char *line_end = nl ? nl : end;
        PyObject *r = parse_line(s, line_end, region, kind_of);
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

static PyMethodDef cmaps_methods[] = {
    {"parse", (PyCFunction)(void (*)(void))cmaps_parse, METH_FASTCALL,
     "parse(data, Region, kind_of) -> list of Region, or None if malformed"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cmaps_module = {
    PyModuleDef_HEAD_INIT, "_cmaps",
    "The fast path of memlab.procfs.maps.parse_maps (see maps.py).", -1, cmaps_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cmaps(void) { return PyModule_Create(&cmaps_module); }
