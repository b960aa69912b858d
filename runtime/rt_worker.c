/* A worker process: one embedded interpreter with the bundle loaded. The
 * main thread reads request frames; with per_worker = 1 it runs each
 * request itself, otherwise it hands them to per_worker threads, so at most
 * per_worker predictions run at once (the server also never sends more).
 * The GIL is taken per request and never held while blocked on the socket.
 *
 * A zygote loads the bundle the same way, freezes the heap, then forks a
 * worker for each socket the server passes it (rt_fork.c). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "rt_worker.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bl.h"
#include "bl_py.h"
#include "lf_buf.h"
#include "lf_log.h"
#include "lf_util.h"
#include "rt_conv.h"
#include "rt_int.h"
#include "rt_proto.h"

#define EXIT_LOAD_FAILED 3
#define EXIT_USAGE 2
#define RESULT_MAX_BYTES (RT_FRAME_MAX_BYTES - 64)
#define URL_INPUT_MAX_BYTES (1024u * 1024u * 1024u)

/* The one worker of this process: its interpreter, callable and socket. */
static struct {
    int fd;
    PyObject *predict;          /* the bundle's callable */
    PyObject *empty_tuple;
    PyObject *key_url, *key_args, *key_pickled, *key_cloudpickle;
    struct rt_spec spec;
    struct bl_ctx bl;
    pthread_mutex_t write_lock; /* one writer at a time on fd */
} w = { .fd = -1, .write_lock = PTHREAD_MUTEX_INITIALIZER };

static void
send_frame(uint16_t type, uint16_t flags, uint64_t id, const char *payload, size_t len)
{
    struct rt_frame_hdr h = { (uint32_t)len, type, flags, id, { 0 } };

    pthread_mutex_lock(&w.write_lock);
    /* A failed write means the server is gone; the read loop sees it too. */
    rt_frame_write(w.fd, &h, payload, NULL);
    pthread_mutex_unlock(&w.write_lock);
}

int
rt_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- one request ---- */

/* Calls the callable as spec 5.3 says. GIL held. New reference or NULL. */
static PyObject *
call_predict(PyObject *req, struct lf_err *err, bool *bad_request)
{
    PyObject *url = NULL, *args, *res;  /* borrowed */
    char *bytes = NULL;
    size_t len = 0;
    int rc;

    url = PyDict_GetItemWithError(req, w.key_url);
    if (url != NULL && url != Py_None) {
        PyThreadState *ts;

        if (!PyUnicode_Check(url)) {
            PyErr_SetString(PyExc_TypeError, "url must be a string");
            return NULL;
        }
        {
            const char *loc = PyUnicode_AsUTF8(url);
            char *copy = loc ? strdup(loc) : NULL;

            if (copy == NULL)
                return PyErr_NoMemory();
            ts = PyEval_SaveThread(); /* no GIL while downloading */
            rc = bl_read_location(&w.bl, copy, URL_INPUT_MAX_BYTES, &bytes, &len, err);
            PyEval_RestoreThread(ts);
            free(copy);
        }
        if (rc != LF_OK) {
            PyErr_Format(PyExc_IOError, "cannot read the url input: %s", err->msg);
            return NULL;
        }
        {
            PyObject *b = PyBytes_FromStringAndSize(bytes, (Py_ssize_t)len); /* new */

            free(bytes);
            if (b == NULL)
                return NULL;
            res = PyObject_CallOneArg(w.predict, b);
            Py_DECREF(b);
            return res;
        }
    }
    if (PyErr_Occurred())
        return NULL;
    args = PyDict_GetItemWithError(req, w.key_args);
    if (args != NULL && args != Py_None) {
        if (!PyDict_Check(args)) {
            PyErr_Format(PyExc_TypeError, "predict function argument after ** must be a "
                         "mapping, not %.200s", Py_TYPE(args)->tp_name);
            return NULL;
        }
        return PyObject_Call(w.predict, w.empty_tuple, args);
    }
    if (PyErr_Occurred())
        return NULL;
    if (PyDict_GetItemWithError(req, w.key_cloudpickle) != NULL) {
        *bad_request = true;
        PyErr_SetString(PyExc_ValueError, "the cloudpickle input is not supported");
        return NULL;
    }
    *bad_request = true;
    PyErr_SetString(PyExc_ValueError, "Input needs either url or args.");
    return NULL;
}

/* Serializes output as the worker response object into out. GIL held. */
static int
respond_output(PyObject *output, bool pickled, const char *tag, struct lf_buf *out,
               struct lf_err *err)
{
    struct lf_buf text;
    int rc;

    if (pickled) {
        char uuid[LF_UUID_BYTES], path[PATH_MAX];

        lf_uuid4(uuid);
        snprintf(path, sizeof(path), "%s/results/%s/%s.pkl", w.spec.data_dir, tag, uuid);
        rc = bl_save_pickled(output, path, err);
        if (rc != LF_OK)
            return rc;
        lf_buf_adds(out, "{\"result_url\":\"");
        lf_buf_addf(out, "%s/v1/results/%s", w.spec.public_url, uuid);
        return lf_buf_adds(out, "\"}") == LF_OK ? LF_OK : lf_err_set(err, LF_ETOOBIG, "big");
    }
    lf_buf_init(&text, RESULT_MAX_BYTES);
    if (rt_json_dumps(output, &text) != 0) {
        lf_buf_release(&text);
        return bl_pyerr_take(err, "cannot serialize the output");
    }
    lf_buf_adds(out, "{\"result\":");
    rc = rt_json_quote_ascii(out, text.data ? text.data : "", text.len);
    lf_buf_release(&text);
    if (rc == LF_OK)
        rc = lf_buf_adds(out, "}");
    if (rc != LF_OK)
        return lf_err_set(err, LF_ETOOBIG, "the output is larger than %u bytes",
                          RESULT_MAX_BYTES);
    return LF_OK;
}

static void
handle(uint64_t id, const char *tag, const char *body, size_t len)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *req = NULL, *output = NULL; /* new */
    struct lf_err err = { 0 };
    struct lf_buf out;
    bool bad_request = false;
    uint16_t flags = RT_FL_OK;
    int rc = LF_OK;

    lf_buf_init(&out, RT_FRAME_MAX_BYTES);
    req = rt_json_loads(body, len);
    if (req == NULL || !PyDict_Check(req)) {
        if (req != NULL)
            PyErr_SetString(PyExc_TypeError, "the request must be a JSON object");
        bad_request = true;
        rc = bl_pyerr_take(&err, "invalid request");
        goto out;
    }
    output = call_predict(req, &err, &bad_request);
    if (output == NULL) {
        rc = bl_pyerr_take(&err, "predict failed");
        goto out;
    }
    {
        PyObject *rp = PyDict_GetItemWithError(req, w.key_pickled); /* borrowed */

        rc = respond_output(output, rp != NULL && PyObject_IsTrue(rp) == 1, tag, &out, &err);
    }
out:
    Py_XDECREF(output);
    Py_XDECREF(req);
    PyGILState_Release(gil);
    if (rc == LF_OK) {
        send_frame(RT_F_RESULT, RT_FL_OK, id, out.data, out.len);
    } else {
        const char *text = err.trace ? err.trace : err.msg;

        flags = bad_request ? RT_FL_BAD_REQUEST : RT_FL_FAILED;
        if (bad_request)
            text = err.msg;
        send_frame(RT_F_RESULT, flags, id, text, strlen(text));
    }
    lf_buf_release(&out);
    lf_err_release(&err);
}

/* ---- threads for per_worker > 1 ---- */

struct job {
    uint64_t id;
    char tag[RT_TAG_BYTES + 1];
    char *body;
    size_t len;
    struct job *next;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    bool closing;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false };

static void *
thread_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct job *j;

        pthread_mutex_lock(&q.lock);
        while (q.head == NULL && !q.closing)
            pthread_cond_wait(&q.cond, &q.lock);
        j = q.head;
        if (j != NULL) {
            q.head = j->next;
            if (q.head == NULL)
                q.tail = NULL;
        }
        pthread_mutex_unlock(&q.lock);
        if (j == NULL)
            return NULL;
        handle(j->id, j->tag, j->body, j->len);
        free(j->body);
        free(j);
    }
}

static void
enqueue(const struct rt_frame_hdr *h, char *body)
{
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        send_frame(RT_F_RESULT, RT_FL_FAILED, h->id, "out of memory", 13);
        free(body);
        return;
    }
    j->id = h->id;
    memcpy(j->tag, h->tag, RT_TAG_BYTES);
    j->body = body;
    j->len = h->len;
    pthread_mutex_lock(&q.lock);
    if (q.tail != NULL)
        q.tail->next = j;
    else
        q.head = j;
    q.tail = j;
    pthread_cond_signal(&q.cond);
    pthread_mutex_unlock(&q.lock);
}

/* Serves frames until the server closes the socket. GIL not held. */
static void
serve(void)
{
    int n_threads = w.spec.per_worker > 1 ? w.spec.per_worker : 0;
    pthread_t *threads = n_threads ? calloc((size_t)n_threads, sizeof(pthread_t)) : NULL;
    int started = 0;

    for (int i = 0; threads != NULL && i < n_threads; i++)
        started += pthread_create(&threads[i], NULL, thread_main, NULL) == 0;
    for (;;) {
        struct rt_frame_hdr h;
        char *body = NULL;
        char tag[RT_TAG_BYTES + 1];

        if (rt_frame_read(w.fd, &h, &body, NULL) != LF_OK)
            break;
        if (h.type != RT_F_PREDICT) {
            free(body);
            continue;
        }
        if (started > 0) {
            enqueue(&h, body);
            continue;
        }
        memcpy(tag, h.tag, RT_TAG_BYTES);
        tag[RT_TAG_BYTES] = '\0';
        handle(h.id, tag, body, h.len);
        free(body);
    }
    pthread_mutex_lock(&q.lock);
    q.closing = true;
    pthread_cond_broadcast(&q.cond);
    pthread_mutex_unlock(&q.lock);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
}

/* ---- start-up ---- */

static int
init_python(struct lf_err *err)
{
    PyConfig config;
    PyStatus st;

    PyConfig_InitIsolatedConfig(&config);
    /* sys.executable is Debian's interpreter, the one bundles are made with,
     * so user code that starts "python" subprocesses gets the same one. */
    st = PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3");
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        return lf_err_set(err, LF_EPYTHON, "cannot start Python: %s",
                          st.err_msg ? st.err_msg : "unknown error");
    return LF_OK;
}

/* Loads the bundle into w.predict. GIL held. */
static int
load(const char *spec_json, struct lf_err *err)
{
    PyObject *spec = NULL; /* new */
    int rc;

    if (rt_conv_init() != 0)
        return bl_pyerr_take(err, "cannot import json");
    rc = bl_boot_init(err);
    if (rc != LF_OK)
        return rc;
    spec = rt_json_loads(spec_json, strlen(spec_json));
    if (spec == NULL)
        return bl_pyerr_take(err, "bad worker spec");
    rc = bl_bundle_load(spec, &w.predict, err);
    Py_DECREF(spec);
    if (rc != LF_OK)
        return rc;
    w.empty_tuple = PyTuple_New(0);
    w.key_url = PyUnicode_InternFromString("url");
    w.key_args = PyUnicode_InternFromString("args");
    w.key_pickled = PyUnicode_InternFromString("return_pickled");
    w.key_cloudpickle = PyUnicode_InternFromString("cloudpickle");
    if (!w.empty_tuple || !w.key_url || !w.key_args || !w.key_pickled || !w.key_cloudpickle)
        return bl_pyerr_take(err, "out of memory");
    return LF_OK;
}

void
rt_worker_announce(void)
{
    char ready[96];

    snprintf(ready, sizeof(ready), "{\"pid\":%d,\"threads\":%d}", (int)getpid(),
             rt_thread_count());
    send_frame(RT_F_READY, 0, 0, ready, strlen(ready));
}

void
rt_worker_serve(int fd)
{
    w.fd = fd;
    rt_worker_announce();
    PyEval_SaveThread();
    serve();
    _exit(0);
}

int
rt_worker_main(int zygote)
{
    const char *spec_env = getenv(RT_ENV_SPEC), *fd_env = getenv(RT_ENV_FD);
    char *spec_json = spec_env ? strdup(spec_env) : NULL;
    struct lf_err err = { 0 };
    int64_t fd;

    if (spec_json == NULL || fd_env == NULL || lf_parse_i64(fd_env, 0, 65535, &fd) != 0) {
        fprintf(stderr, "liftoff: worker mode is started by the server only\n");
        return EXIT_USAGE;
    }
    w.fd = (int)fd;
    unsetenv(RT_ENV_SPEC);
    unsetenv(RT_ENV_FD);
    if (rt_spec_parse(spec_json, &w.spec, &err) != LF_OK ||
        bl_ctx_init(&w.bl, w.spec.data_dir, URL_INPUT_MAX_BYTES, w.spec.url_timeout_s,
                    &err) != LF_OK ||
        bl_global_init(&err) != LF_OK || init_python(&err) != LF_OK ||
        load(spec_json, &err) != LF_OK) {
        const char *text = err.trace ? err.trace : err.msg;

        send_frame(RT_F_LOAD_FAILED, 0, 0, text, strlen(text));
        free(spec_json);
        return EXIT_LOAD_FAILED;
    }
    free(spec_json);
    if (zygote)
        rt_zygote_serve(w.fd); /* does not return */
    rt_worker_serve(w.fd);
    return 0;
}
