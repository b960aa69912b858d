/* Loading bundles into an embedded CPython (worker side only: include after
 * Python.h). The rules of spec 5.2 live in bl_boot.py, which is compiled
 * into the binary; this is its C face. */
#ifndef BL_PY_H
#define BL_PY_H

#include "lf_err.h"

/* GIL held. Compiles the embedded boot module. Errors: LF_EPYTHON (with
 * the traceback in err->trace). */
int bl_boot_init(struct lf_err *err);

/* GIL held. Loads the bundle that spec describes (a dict: kind, path,
 * bundle_id, requirements, app_config, data_dir, module paths) and puts the
 * predict callable in *predict_out (new reference). Errors: LF_EPYTHON with
 * the traceback in err->trace. */
int bl_bundle_load(PyObject *spec, PyObject **predict_out, struct lf_err *err);

/* GIL held. cloudpickles output into path atomically. Errors: LF_EPYTHON. */
int bl_save_pickled(PyObject *output, const char *path, struct lf_err *err);

/* GIL held. gc.collect() then gc.freeze(), before a zygote forks. */
int bl_freeze(struct lf_err *err);

/* GIL held, a Python exception pending. Moves it into err: LF_EPYTHON, msg
 * "<what>: <exception type>: <text>", err->trace the formatted traceback.
 * Always returns LF_EPYTHON. */
int bl_pyerr_take(struct lf_err *err, const char *what);

#endif
