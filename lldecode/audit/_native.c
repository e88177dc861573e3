/*
 * lldecode.audit._native: the block scan's candidate search in C (optional).
 *
 * lldecode.audit.scan finds, in a block of an auditd log, the lines that are
 * not plain records (scan.PLAIN_RECORD: an auditd header of a type that is
 * no Landlock type in any spelling, numbers in range) and the lines holding
 * an ESC byte; in Python that is one regular-expression search per block
 * and one match per find (scan.Scan._positions).  candidates() gives the
 * same line starts in one pass over the bytes, and the number of newlines
 * before each, so that the caller needs no newline count of its own.
 *
 * The Python code stays the reference: scan.NATIVE = False uses it, and
 * tests/audit/test_native.py compares both on fixtures, generated logs and
 * hypothesis-made lines (every branch of PLAIN_RECORD).  A build without a
 * C compiler leaves this module out, and the Python code is used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

static int starts_with(const unsigned char *p, const unsigned char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* Digits from p, at most `most` (possessive, as {1,most}+): the end of
 * the run, or NULL when there is none. */
static const unsigned char *digits(const unsigned char *p, const unsigned char *end, int most)
{
    int n = 0;
    while (p < end && n < most && is_digit(*p)) {
        p++;
        n++;
    }
    return n ? p : NULL;
}

/* Does a plain record (scan.PLAIN_RECORD) start at p, within [p, end)?
 *   (?:node=[^ \t\n]++ )?type=(?!LANDLOCK_|LL_|UNKNOWN\[142|AUDIT142|142)
 *   (?:[A-Z][A-Z0-9_]*+(?:\[[0-9]++\])?|[0-9]++)
 *   " msg=audit\([0-9]{1,10}+\.[0-9]{1,9}+:[0-9]{1,20}+\):"  */
static int is_plain(const unsigned char *p, const unsigned char *end)
{
    if (starts_with(p, end, "node=")) {
        const unsigned char *q = p + 5;
        while (q < end && *q != ' ' && *q != '\t' && *q != '\n')
            q++;
        if (q == p + 5 || q >= end || *q != ' ')
            return 0;
        p = q + 1;
    }
    if (!starts_with(p, end, "type="))
        return 0;
    p += 5;
    if (starts_with(p, end, "LANDLOCK_") || starts_with(p, end, "LL_")
        || starts_with(p, end, "UNKNOWN[142") || starts_with(p, end, "AUDIT142")
        || starts_with(p, end, "142"))
        return 0;
    if (p < end && is_upper(*p)) {
        p++;
        while (p < end && (is_upper(*p) || is_digit(*p) || *p == '_'))
            p++;
        if (p < end && *p == '[') {
            const unsigned char *q = p + 1;
            while (q < end && is_digit(*q))
                q++;
            if (q > p + 1 && q < end && *q == ']')
                p = q + 1;
            /* else: the optional group does not match; " msg=" must follow */
        }
    } else if (p < end && is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return 0;
    }
    if (!starts_with(p, end, " msg=audit("))
        return 0;
    p += 11;
    if (!(p = digits(p, end, 10)) || p >= end || *p != '.')
        return 0;
    if (!(p = digits(p + 1, end, 9)) || p >= end || *p != ':')
        return 0;
    if (!(p = digits(p + 1, end, 20)) || !starts_with(p, end, "):"))
        return 0;
    return 1;
}

/* candidates(block, size) -> (starts, newlines, total): the starts of the
 * lines of block[:size] that are no plain record or hold an ESC byte, in
 * order, for each the number of newlines before it, and the number of
 * newlines in block[:size]. */
static PyObject *candidates(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "y*n", &view, &size))
        return NULL;
    if (size < 0 || size > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "size out of range");
        return NULL;
    }
    const unsigned char *base = (const unsigned char *)view.buf;
    const unsigned char *end = base + size;
    PyObject *starts = PyList_New(0);
    PyObject *newlines = PyList_New(0);
    if (!starts || !newlines)
        goto fail;
    const unsigned char *line = base;
    Py_ssize_t count = 0;
    while (line < end) {
        const unsigned char *nl = memchr(line, '\n', (size_t)(end - line));
        const unsigned char *stop = nl ? nl : end;
        if (!is_plain(line, end) || memchr(line, 0x1b, (size_t)(stop - line))) {
            PyObject *at = PyLong_FromSsize_t(line - base);
            PyObject *n = PyLong_FromSsize_t(count);
            if (!at || !n || PyList_Append(starts, at) || PyList_Append(newlines, n)) {
                Py_XDECREF(at);
                Py_XDECREF(n);
                goto fail;
            }
            Py_DECREF(at);
            Py_DECREF(n);
        }
        if (!nl)
            break;
        count++;
        line = nl + 1;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(NNn)", starts, newlines, count);
fail:
    Py_XDECREF(starts);
    Py_XDECREF(newlines);
    PyBuffer_Release(&view);
    return NULL;
}

/* Digits from p into *value (at most 18: larger numbers are not read, the
 * caller treats them as mattering): the end of the run, or NULL. */
static const unsigned char *number(const unsigned char *p, const unsigned char *end,
                                   long long *value, int *wide)
{
    long long v = 0;
    int n = 0;
    while (p < end && is_digit(*p)) {
        if (n < 18)
            v = v * 10 + (*p - '0');
        p++;
        n++;
    }
    *value = v;
    *wide = n > 18;
    return n ? p : NULL;
}

/* quiet_rows(block, lo, hi, oldest, window, late, serials) -> (offset, rows):
 * the plain records of block[lo:hi] (lo a line start), passed over while
 * none may matter to the open events: the offset of the first line that
 * may (hi when none does) and the number of lines before it.  A record may
 * matter (scan.Scan._walk's test, which says "may" more often, never less,
 * than the grouper's own) when its line has a node= or no header as
 * scan._HEADER_RE reads one, its serial is one of ``serials`` or more than
 * ``window`` from ``oldest``, or its seconds + 1 exceed ``late`` (inf: no
 * timeout); a number of more than 18 digits may matter too. */
static PyObject *quiet_rows(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t lo, hi;
    long long oldest, window;
    double late;
    PyObject *serials, *oldest_obj, *window_obj;
    if (!PyArg_ParseTuple(args, "y*nnO!O!dO!", &view, &lo, &hi, &PyLong_Type, &oldest_obj,
                          &PyLong_Type, &window_obj, &late, &PyTuple_Type, &serials))
        return NULL;
    int overflow_oldest = 0, overflow_window = 0;
    oldest = PyLong_AsLongLongAndOverflow(oldest_obj, &overflow_oldest);
    window = PyLong_AsLongLongAndOverflow(window_obj, &overflow_window);
    if (PyErr_Occurred()) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if (lo < 0 || hi < lo || hi > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "range out of the block");
        return NULL;
    }
    Py_ssize_t nopen = PyTuple_GET_SIZE(serials);
    long long *open_serials = PyMem_Malloc((size_t)(nopen ? nopen : 1) * sizeof(long long));
    if (!open_serials) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    /* a number beyond 64 bits (or a window that could overflow the
     * differences): every row may matter */
    int huge = overflow_oldest || overflow_window || window < 0 || window > (1LL << 62)
               || oldest > (1LL << 62) || oldest < -(1LL << 62);
    for (Py_ssize_t i = 0; i < nopen; i++) {
        int overflow = 0;
        open_serials[i] = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(serials, i), &overflow);
        if (open_serials[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(open_serials);
            PyBuffer_Release(&view);
            return NULL;
        }
        if (overflow)
            huge = 1;
    }
    const unsigned char *base = (const unsigned char *)view.buf;
    const unsigned char *end = base + hi;
    const unsigned char *line = base + lo;
    Py_ssize_t rows = 0;
    while (line < end && !huge) {
        const unsigned char *p = line;
        long long sec, ms, serial;
        int wide_sec, wide_ms, wide_serial;
        if (!starts_with(p, end, "type="))
            break;
        p += 5;
        const unsigned char *q = p;
        while (q < end && *q != ' ' && *q != '\n')
            q++;
        if (q == p || !starts_with(q, end, " msg=audit("))
            break;
        p = q + 11;
        if (!(p = number(p, end, &sec, &wide_sec)) || p >= end || *p != '.')
            break;
        if (!(p = number(p + 1, end, &ms, &wide_ms)) || p >= end || *p != ':')
            break;
        if (!(p = number(p + 1, end, &serial, &wide_serial)) || !starts_with(p, end, "):"))
            break;
        if (wide_sec || wide_serial || serial - oldest > window || oldest - serial > window
            || (double)(sec + 1) > late)
            break;
        int joins = 0;
        for (Py_ssize_t i = 0; i < nopen; i++)
            if (open_serials[i] == serial)
                joins = 1;
        if (joins)
            break;
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        rows++;
        if (!nl) {
            line = end;
            break;
        }
        line = nl + 1;
    }
    PyMem_Free(open_serials);
    PyBuffer_Release(&view);
    return Py_BuildValue("(nn)", (Py_ssize_t)(line - base), rows);
}

static PyMethodDef methods[] = {
    {"candidates", candidates, METH_VARARGS,
     "candidates(block, size) -> (starts, newlines, total): the lines of block[:size] "
     "that are no plain auditd record (lldecode.audit.scan.PLAIN_RECORD) or hold an ESC "
     "byte, the newlines before each, and the newlines of block[:size]."},
    {"quiet_rows", quiet_rows, METH_VARARGS,
     "quiet_rows(block, lo, hi, oldest, window, late, serials) -> (offset, rows): the "
     "plain records of block[lo:hi] passed over while none may matter to the open events "
     "(see lldecode.audit.scan.Scan._walk)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lldecode.audit._native",
    "The block scan's candidate search in C (see lldecode.audit.scan).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
