/* The C face of the embedded boot module (bl_boot.py): see bl_py.h. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bl_py.h"

#include <stdlib.h>
#include <string.h>

#include "bl_boot_py.h"

/* The boot module and traceback.format_exception, bound once per worker
 * process (one interpreter per process). */
static struct {
    PyObject *boot;
    PyObject *format_exception;
} g;

/* Takes the pending exception, normalized, with its traceback (3.11 API). */
static PyObject *
exc_take(void)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL;

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

int
bl_pyerr_take(struct lf_err *err, const char *what)
{
    PyObject *exc = exc_take(); /* new, or NULL */
    PyObject *lines = NULL, *text = NULL, *empty = NULL, *str = NULL; /* new */
    const char *s = NULL, *msg = NULL;

    if (exc == NULL)
        return lf_err_set(err, LF_EPYTHON, "%s", what);
    str = PyObject_Str(exc);
    msg = str ? PyUnicode_AsUTF8(str) : NULL;
    if (msg == NULL)
        PyErr_Clear();
    lf_err_set(err, LF_EPYTHON, "%s: %s%s%s", what, Py_TYPE(exc)->tp_name, msg ? ": " : "",
               msg ? msg : "");
    if (g.format_exception != NULL)
        lines = PyObject_CallOneArg(g.format_exception, exc);
    empty = PyUnicode_FromString("");
    if (lines != NULL && empty != NULL)
        text = PyUnicode_Join(empty, lines);
    if (text != NULL)
        s = PyUnicode_AsUTF8(text); /* borrowed from text */
    if (s == NULL) {
        PyErr_Clear();
        s = err ? err->msg : what;
    }
    if (err != NULL) {
        free(err->trace);
        err->trace = strdup(s);
    }
    Py_XDECREF(str);
    Py_XDECREF(text);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_DECREF(exc);
    return LF_EPYTHON;
}

int
bl_boot_init(struct lf_err *err)
{
    PyObject *code = NULL, *tb = NULL; /* new */

    tb = PyImport_ImportModule("traceback");
    if (tb == NULL)
        return bl_pyerr_take(err, "cannot import traceback");
    g.format_exception = PyObject_GetAttrString(tb, "format_exception");
    Py_DECREF(tb);
    if (g.format_exception == NULL)
        return bl_pyerr_take(err, "cannot find traceback.format_exception");
    code = Py_CompileString(bl_boot_py, "<liftoff_boot>", Py_file_input);
    if (code == NULL)
        return bl_pyerr_take(err, "cannot compile the boot module");
    g.boot = PyImport_ExecCodeModule("liftoff_boot", code);
    Py_DECREF(code);
    if (g.boot == NULL)
        return bl_pyerr_take(err, "cannot run the boot module");
    return LF_OK;
}

/* Calls liftoff_boot.<name>(*args). Returns a new reference or NULL with an
 * exception pending. */
static PyObject *
call_boot(const char *name, PyObject *a, PyObject *b)
{
    PyObject *fn = PyObject_GetAttrString(g.boot, name); /* new */
    PyObject *res;

    if (fn == NULL)
        return NULL;
    if (a == NULL)
        res = PyObject_CallNoArgs(fn);
    else if (b == NULL)
        res = PyObject_CallOneArg(fn, a);
    else
        res = PyObject_CallFunctionObjArgs(fn, a, b, NULL);
    Py_DECREF(fn);
    return res;
}

int
bl_bundle_load(PyObject *spec, PyObject **predict_out, struct lf_err *err)
{
    PyObject *predict = call_boot("load", spec, NULL); /* new */

    if (predict == NULL)
        return bl_pyerr_take(err, "cannot load the bundle");
    *predict_out = predict;
    return LF_OK;
}

int
bl_save_pickled(PyObject *output, const char *path, struct lf_err *err)
{
    PyObject *p = PyUnicode_FromString(path); /* new */
    PyObject *res = p ? call_boot("save_pickled", output, p) : NULL; /* new */

    Py_XDECREF(p);
    if (res == NULL)
        return bl_pyerr_take(err, "cannot pickle the result");
    Py_DECREF(res);
    return LF_OK;
}

int
bl_freeze(struct lf_err *err)
{
    PyObject *res = call_boot("freeze", NULL, NULL); /* new */

    if (res == NULL)
        return bl_pyerr_take(err, "cannot freeze the heap");
    Py_DECREF(res);
    return LF_OK;
}
