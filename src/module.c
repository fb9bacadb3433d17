/* fastloop._core: module state, type creation, multi-phase init. */
#include "fastloop.h"

#include <pthread.h>

static struct PyModuleDef core_module;

volatile unsigned long fl_fork_generation = 0;

static void
count_fork_in_child(void)
{
    fl_fork_generation++;
}

fl_state *
fl_get_state(PyObject *module)
{
    return (fl_state *)PyModule_GetState(module);
}

PyObject *
fl_module_from_type(PyTypeObject *type)
{
    return PyType_GetModuleByDef(type, &core_module);
}

fl_state *
fl_state_from_type(PyTypeObject *type)
{
    /* Walks the MRO to find the type this module defined: call it once per
     * object creation at most, never on a hot path. */
    PyObject *module = PyType_GetModuleByDef(type, &core_module);
    return module ? fl_get_state(module) : NULL;
}

PyObject *
fl_call_helper(fl_state *st, const char *name, PyObject *const *args, size_t nargs)
{
    if (st->helpers == NULL) {
        st->helpers = PyImport_ImportModule("fastloop._helpers");
        if (st->helpers == NULL) {
            return NULL;
        }
    }
    PyObject *fn = PyObject_GetAttrString(st->helpers, name);
    if (fn == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_Vectorcall(fn, args, nargs, NULL);
    Py_DECREF(fn);
    return r;
}

static int
intern_names(fl_state *st)
{
#define INTERN(field, text) \
    if ((st->field = PyUnicode_InternFromString(text)) == NULL) return -1
    INTERN(str_call_exception_handler, "call_exception_handler");
    INTERN(str_message, "message");
    INTERN(str_exception, "exception");
    INTERN(str_handle, "handle");
    INTERN(str_source_traceback, "source_traceback");
    INTERN(str_fileno, "fileno");
#undef INTERN
    return 0;
}

static int
add_type(PyObject *module, PyType_Spec *spec, PyObject *base, PyTypeObject **out)
{
    PyObject *type = PyType_FromModuleAndSpec(module, spec, base);
    if (type == NULL) {
        return -1;
    }
    *out = (PyTypeObject *)type;
    /* "fastloop.Handle" is exported as _core.Handle */
    const char *short_name = strrchr(spec->name, '.') + 1;
    return PyModule_AddObjectRef(module, short_name, type);
}

static int
core_exec(PyObject *module)
{
    fl_state *st = fl_get_state(module);
    /* Once per process, even if the module is initialized again (for
     * example in a subinterpreter). */
    static int atfork_registered = 0;
    if (!atfork_registered) {
        if (pthread_atfork(NULL, NULL, count_fork_in_child) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "pthread_atfork() failed");
            return -1;
        }
        atfork_registered = 1;
    }
    if (intern_names(st) < 0
            || add_type(module, &fl_loop_spec, NULL, &st->LoopType) < 0
            || add_type(module, &fl_handle_spec, NULL, &st->HandleType) < 0
            || add_type(module, &fl_timer_handle_spec, (PyObject *)st->HandleType,
                        &st->TimerHandleType) < 0
            || add_type(module, &fl_future_spec, NULL, &st->FutureType) < 0
            || add_type(module, &fl_future_iter_spec, NULL, &st->FutureIterType) < 0
            || add_type(module, &fl_task_spec, (PyObject *)st->FutureType, &st->TaskType) < 0
            || add_type(module, &fl_registry_entry_spec, NULL, &st->RegistryEntryType) < 0
            || (st->fresh_context = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type)) == NULL
            || fl_asyncio_init(st) < 0
            || fl_net_init(module, st) < 0) {
        return -1;
    }
    return 0;
}

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    fl_state *st = fl_get_state(module);
    Py_VISIT(st->LoopType);
    Py_VISIT(st->HandleType);
    Py_VISIT(st->TimerHandleType);
    Py_VISIT(st->FutureType);
    Py_VISIT(st->FutureIterType);
    Py_VISIT(st->TaskType);
    Py_VISIT(st->RegistryEntryType);
    Py_VISIT(st->helpers);
    Py_VISIT(st->fresh_context);
    int status = fl_net_traverse(st, visit, arg);
    if (status != 0) {
        return status;
    }
    return fl_asyncio_traverse(st, visit, arg);
}

static int
core_clear(PyObject *module)
{
    fl_state *st = fl_get_state(module);
    Py_CLEAR(st->LoopType);
    Py_CLEAR(st->HandleType);
    Py_CLEAR(st->TimerHandleType);
    Py_CLEAR(st->FutureType);
    Py_CLEAR(st->FutureIterType);
    Py_CLEAR(st->TaskType);
    Py_CLEAR(st->RegistryEntryType);
    Py_CLEAR(st->helpers);
    Py_CLEAR(st->fresh_context);
    fl_asyncio_clear(st);
    Py_CLEAR(st->str_call_exception_handler);
    Py_CLEAR(st->str_message);
    Py_CLEAR(st->str_exception);
    Py_CLEAR(st->str_handle);
    Py_CLEAR(st->str_source_traceback);
    Py_CLEAR(st->str_fileno);
    fl_net_clear(st);
    return 0;
}

static void
core_free(void *module)
{
    (void)core_clear((PyObject *)module);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fastloop._core",
    .m_doc = "The C core of fastloop: loop, handles, timers, the poller, futures and tasks.",
    .m_size = sizeof(fl_state),
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
