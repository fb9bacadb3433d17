/* How fastloop tasks show in asyncio.all_tasks().
 *
 * all_tasks() lists what is in asyncio's task registry, a weakref.WeakSet
 * (tasks._all_tasks on 3.11, tasks._scheduled_tasks on 3.12+).  A WeakSet
 * keeps, in its `data` set, one callable per item that returns the item,
 * or None once the item is gone; it only ever calls, hashes and compares
 * them.  A weak reference with a callback is what WeakSet.add() puts there,
 * and it costs one more object for the cyclic garbage collector to track
 * and walk for as long as the task lives: in a program with many pending
 * tasks that is a sizeable share of every full collection.
 *
 * A fastloop task puts a RegistryEntry there instead: an object that holds
 * the task by a borrowed pointer, owns no references (so the collector
 * never tracks it), and behaves as a weak reference to the task would:
 * calling it returns the task, it hashes as the task, and it compares equal
 * to a weak reference to the same task, so WeakSet.discard(task),
 * `task in registry` and asyncio's _unregister_task() find it.  The task
 * takes its entry out when it finishes and, at the latest, when it is
 * cleared or freed: the entry then answers None, as a dead weak reference
 * would.  While the WeakSet is being iterated, removals are deferred to its
 * _pending_removals list exactly as its own weak-reference callback does.
 *
 * If asyncio's registry is not a WeakSet as expected, tasks register
 * through asyncio's _register_task instead.
 */
#include "fastloop.h"

typedef struct {
    PyObject_HEAD
    PyObject *task;     /* borrowed; NULL once the task is gone */
    Py_hash_t hash;     /* the task's hash, as a weak reference keeps it */
} RegistryEntryObject;

#define ENTRY(o) ((RegistryEntryObject *)(o))

static PyObject *
RegistryEntry_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "a task registry entry takes no arguments");
        return NULL;
    }
    PyObject *task = ENTRY(self)->task;
    return Py_NewRef(task ? task : Py_None);
}

static Py_hash_t
RegistryEntry_hash(PyObject *self)
{
    return ENTRY(self)->hash;
}

/* The object another registry item stands for: a new reference, NULL
 * (no error) if it is gone, or NULL with an error set. */
static PyObject *
referent_of(fl_state *st, PyObject *other, int *is_reference)
{
    if (Py_IS_TYPE(other, st->RegistryEntryType)) {
        *is_reference = 1;
        return Py_XNewRef(ENTRY(other)->task);
    }
    if (PyWeakref_CheckRef(other)) {
        *is_reference = 1;
#if PY_VERSION_HEX >= 0x030D0000
        PyObject *obj;
        if (PyWeakref_GetRef(other, &obj) < 0) {
            return NULL;
        }
        return obj;
#else
        PyObject *obj = PyWeakref_GetObject(other);
        return obj == Py_None ? NULL : Py_NewRef(obj);
#endif
    }
    *is_reference = 0;
    return NULL;
}

/* As weak references compare: by their referents while both are alive,
 * by identity otherwise. */
static PyObject *
RegistryEntry_richcompare(PyObject *self, PyObject *other, int op)
{
    if (op != Py_EQ && op != Py_NE) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    fl_state *st = PyType_GetModuleState(Py_TYPE(self));
    int is_reference;
    PyObject *theirs = referent_of(st, other, &is_reference);
    if (!is_reference) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (theirs == NULL && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *mine = Py_XNewRef(ENTRY(self)->task);
    PyObject *result;
    if (mine == NULL || theirs == NULL) {
        result = Py_NewRef((self == other) == (op == Py_EQ) ? Py_True : Py_False);
    }
    else {
        result = PyObject_RichCompare(mine, theirs, op);
    }
    Py_XDECREF(mine);
    Py_XDECREF(theirs);
    return result;
}

static PyObject *
RegistryEntry_repr(PyObject *self)
{
    PyObject *task = ENTRY(self)->task;
    if (task == NULL) {
        return PyUnicode_FromFormat("<task registry entry at %p; dead>", self);
    }
    return PyUnicode_FromFormat("<task registry entry at %p; to '%s' at %p>", self,
                                Py_TYPE(task)->tp_name, task);
}

static void
RegistryEntry_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot registry_entry_slots[] = {
    {Py_tp_call, RegistryEntry_call},
    {Py_tp_hash, RegistryEntry_hash},
    {Py_tp_richcompare, RegistryEntry_richcompare},
    {Py_tp_repr, RegistryEntry_repr},
    {Py_tp_dealloc, RegistryEntry_dealloc},
    {Py_tp_doc, "What stands for a fastloop task in asyncio's task registry: "
                "a weak reference to the task, in effect."},
    {0, NULL},
};

PyType_Spec fl_registry_entry_spec = {
    .name = "fastloop.TaskRegistryEntry",
    .basicsize = sizeof(RegistryEntryObject),
    /* No Py_TPFLAGS_HAVE_GC: it owns no references, which is the point. */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = registry_entry_slots,
};

/* ---- adding and removing ------------------------------------------------ */

static void registry_detach(PyObject *entry);

int
fl_registry_add(fl_state *st, TaskObject *task)
{
    fl_asyncio *a = &st->asyncio;
    if (a->registry_data == NULL) {
        return fl_call_hook(a->register_task, (PyObject *)task);
    }
    /* What WeakSet.add() does first. */
    if (PyList_GET_SIZE(a->registry_pending) > 0 && PySet_GET_SIZE(a->registry_iterating) == 0) {
        PyObject *r = PyObject_CallMethod(a->registry, "_commit_removals", NULL);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    Py_hash_t hash = PyObject_Hash((PyObject *)task);
    if (hash == -1) {
        return -1;
    }
    RegistryEntryObject *entry = PyObject_New(RegistryEntryObject, st->RegistryEntryType);
    if (entry == NULL) {
        return -1;
    }
    entry->task = (PyObject *)task;
    entry->hash = hash;
    if (PySet_Add(a->registry_data, (PyObject *)entry) < 0) {
        entry->task = NULL;
        Py_DECREF(entry);
        return -1;
    }
    PyObject *old = task->registered;
    task->registered = (PyObject *)entry;
    if (old != NULL) {
        registry_detach(old);
    }
    return 0;
}

static void
registry_detach(PyObject *entry)
{
    ENTRY(entry)->task = NULL;
    /* The entry's type is this module's own and never subclassed: its
     * module state is one pointer away (tasks may be of any subclass). */
    fl_state *st = PyType_GetModuleState(Py_TYPE(entry));
    fl_asyncio *a = &st->asyncio;
    if (a->registry_data != NULL) {
        PyObject *error = PyErr_Occurred() ? fl_fetch_exception() : NULL;
        int status = PySet_GET_SIZE(a->registry_iterating) == 0
                         ? PySet_Discard(a->registry_data, entry)
                         : PyList_Append(a->registry_pending, entry);
        if (status < 0) {
            PyErr_WriteUnraisable(entry);
        }
        if (error != NULL) {
            fl_restore_exception(error);
        }
    }
    Py_DECREF(entry);
}

void
fl_registry_remove(TaskObject *task)
{
    PyObject *entry = task->registered;
    if (entry != NULL) {
        task->registered = NULL;
        registry_detach(entry);
    }
}
