/* fastloop.Task: asyncio.Task in C, a subtype of fastloop.Future.
 *
 * A step sends None into the coroutine (or throws an exception in) with
 * PyIter_Send, and looks at what it yielded, as asyncio's Task.__step does.
 * On a fastloop loop, outside debug mode, the next step is queued in the
 * loop's ready ring as a READY_TASK_STEP entry (a: the task, b: an exception
 * to throw in, c: the future whose completion woke the task), and a task
 * waiting on a fastloop Future is stored in the future's callbacks as a
 * tagged entry: no Handle, no bound method, no wrapper object.  Everywhere
 * else (a foreign loop or future, debug mode) the public protocol is used:
 * loop.call_soon(task.__step, context=...), and
 * future.add_done_callback(task.__wakeup, context=...).
 *
 * asyncio.current_task() and asyncio.all_tasks() see these tasks through
 * what asyncio keeps for third-party tasks: the {loop: task} dict behind
 * _enter_task/_leave_task/_swap_current_task, and the task registry behind
 * _register_task (a weakref.WeakSet, see task_registry.c); on 3.12+ a task
 * whose next step is in a running loop's ring is listed instead in the
 * set behind _register_eager_task, which costs no weak reference.
 */
#include "fastloop.h"

#define TASK(o) ((TaskObject *)(o))

static int task_step(fl_state *st, TaskObject *task, PyObject *exc);
static int task_wakeup(fl_state *st, TaskObject *task, PyObject *fut);

static PyObject *Task_step_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
static PyObject *Task_wakeup_method(PyObject *self, PyObject *fut);

/* The callables asyncio would see: used on the slow paths only (a foreign
 * loop or future, debug mode, error reports). */
static PyMethodDef fl_task_step_def = {"__step", (PyCFunction)(void (*)(void))Task_step_method,
                                METH_FASTCALL, NULL};
PyMethodDef fl_task_wakeup_def = {"__wakeup", Task_wakeup_method, METH_O, NULL};

static inline int
is_exact_future(fl_state *st, PyObject *o)
{
    return Py_IS_TYPE(o, st->FutureType) || Py_IS_TYPE(o, st->TaskType);
}

/* ---- current task and registry ----------------------------------------- */

static int
enter_task(fl_state *st, PyObject *loop, PyObject *task)
{
    PyObject *tasks = st->asyncio.current_tasks;
    if (tasks == NULL) {
        PyObject *r = PyObject_CallFunctionObjArgs(st->asyncio.enter_task, loop, task, NULL);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    PyObject *current = PyDict_GetItemWithError(tasks, loop);
    if (current != NULL) {
        Py_INCREF(current);
        PyErr_Format(PyExc_RuntimeError,
                     "Cannot enter into task %R while another task %R is being executed.",
                     task, current);
        Py_DECREF(current);
        return -1;
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    return PyDict_SetItem(tasks, loop, task);
}

static int
leave_task(fl_state *st, PyObject *loop, PyObject *task)
{
    PyObject *tasks = st->asyncio.current_tasks;
    if (tasks == NULL) {
        PyObject *r = PyObject_CallFunctionObjArgs(st->asyncio.leave_task, loop, task, NULL);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    PyObject *current = PyDict_GetItemWithError(tasks, loop);
    if (current != task) {
        if (current == NULL && PyErr_Occurred()) {
            return -1;
        }
        current = current ? current : Py_None;
        Py_INCREF(current);
        PyErr_Format(PyExc_RuntimeError, "Leaving task %R does not match the current task %R.",
                     task, current);
        Py_DECREF(current);
        return -1;
    }
    return PyDict_DelItem(tasks, loop);
}

/* Make task (or nobody, if task is None) the loop's current task; returns
 * the previous one (None for nobody) as a new reference. */
static PyObject *
swap_current_task(fl_state *st, PyObject *loop, PyObject *task)
{
    PyObject *tasks = st->asyncio.current_tasks;
    if (tasks == NULL) {
        return PyObject_CallFunctionObjArgs(st->asyncio.swap_current_task, loop, task, NULL);
    }
    PyObject *prev = PyDict_GetItemWithError(tasks, loop);
    if (prev == NULL && PyErr_Occurred()) {
        return NULL;
    }
    prev = Py_NewRef(prev ? prev : Py_None);
    int r = task == Py_None ? PyDict_DelItem(tasks, loop) : PyDict_SetItem(tasks, loop, task);
    if (r < 0) {
        Py_DECREF(prev);
        return NULL;
    }
    return prev;
}

static void unlist_ready(fl_state *st, TaskObject *task);

/* The task is done: out of asyncio's registries, since a finished task
 * never shows in all_tasks() anyway. */
static void
unregister_done_task(fl_state *st, TaskObject *task)
{
    unlist_ready(st, task);
    fl_registry_remove(task);
}

/* 3.12+: list the task in asyncio's set of tasks that all_tasks() holds
 * strongly (see fl_asyncio.ready_tasks): only while the ready ring of a
 * running loop holds a step of the task, so that the listing changes
 * nothing about what is alive. */
static int
list_ready(fl_state *st, TaskObject *task)
{
    if (PySet_Add(st->asyncio.ready_tasks, (PyObject *)task) < 0) {
        return -1;
    }
    task->in_ready_tasks = 1;
    return 0;
}

static void
unlist_ready(fl_state *st, TaskObject *task)
{
    if (!task->in_ready_tasks) {
        return;
    }
    task->in_ready_tasks = 0;
    PyObject *error = PyErr_Occurred() ? fl_fetch_exception() : NULL;
    /* The caller holds a reference: this cannot free the task. */
    if (PySet_Discard(st->asyncio.ready_tasks, (PyObject *)task) < 0) {
        PyErr_Clear();
    }
    if (error != NULL) {
        fl_restore_exception(error);
    }
}

/* The task no longer has a step in a ready ring: it moves from the ready
 * set to the weak registry, or leaves both if it is done. */
static int
graduate(fl_state *st, TaskObject *task)
{
    if (!task->in_ready_tasks) {
        return 0;
    }
    unlist_ready(st, task);
    if (task->fut.state != FUT_PENDING || task->registered != NULL) {
        return 0;
    }
    PyObject *error = PyErr_Occurred() ? fl_fetch_exception() : NULL;
    int status = fl_registry_add(st, task);
    if (error != NULL) {
        if (status < 0) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
        fl_restore_exception(error);
    }
    return status;
}

void
fl_task_unlist_ring(LoopObject *loop)
{
    fl_state *st = loop->state;
    if (st->asyncio.ready_tasks == NULL) {
        return;
    }
    for (size_t i = 0; i < ready_length(&loop->ready); i++) {
        const ready_entry *e = ready_peek(&loop->ready, i);
        if (e->kind != READY_TASK_STEP || !TASK(e->a)->in_ready_tasks) {
            continue;
        }
        /* graduate() may run Python code, which may grow the ring and move
         * its entries: hold the task itself, not the entry. */
        PyObject *task = Py_NewRef(e->a);
        if (graduate(st, TASK(task)) < 0) {
            PyErr_WriteUnraisable(task);
        }
        Py_DECREF(task);
    }
}

/* ---- scheduling -------------------------------------------------------- */

/* Queue the task's next step: a step that throws exc in (NULL: sends
 * None), or, if fut is not NULL, the wake-up by that done future.  Straight
 * into the ring on a fastloop loop; through loop.call_soon(task.__step or
 * task.__wakeup, ...) elsewhere. */
static int
queue_step(fl_state *st, TaskObject *task, PyObject *exc, PyObject *fut)
{
    if (fl_future_ensure_alive(&task->fut) < 0) {
        return -1;
    }
    LoopObject *ring = fl_future_ring(&task->fut);
    if (ring != NULL) {
        ready_entry e = {(PyObject *)task, exc, fut, READY_TASK_STEP};
        if (ready_push(&ring->ready, e) < 0) {
            PyErr_NoMemory();
            (void)graduate(st, task);
            return -1;
        }
        Py_INCREF(task);
        Py_XINCREF(exc);
        Py_XINCREF(fut);
        task->requeued = 1;
        return 0;
    }
    if (graduate(st, task) < 0) {
        return -1;
    }
    PyObject *callable = PyCFunction_NewEx(fut ? &fl_task_wakeup_def : &fl_task_step_def,
                                           (PyObject *)task, NULL);
    if (callable == NULL) {
        return -1;
    }
    int status = fl_call_soon(st, task->fut.loop, callable, fut ? fut : exc, task->context);
    Py_DECREF(callable);
    return status;
}

static int
call_step_soon(fl_state *st, TaskObject *task, PyObject *exc)
{
    return queue_step(st, task, exc, NULL);
}

int
fl_task_wakeup_soon(fl_state *st, PyObject *task, PyObject *fut)
{
    return queue_step(st, TASK(task), NULL, fut);
}

/* Throw a RuntimeError into the task on its next step: how asyncio reports
 * a coroutine that yielded something it should not have. */
static int
set_error_soon(fl_state *st, TaskObject *task, const char *format, ...)
{
    va_list vargs;
    va_start(vargs, format);
    PyObject *msg = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    if (msg == NULL) {
        return -1;
    }
    PyObject *exc = PyObject_CallOneArg(PyExc_RuntimeError, msg);
    Py_DECREF(msg);
    if (exc == NULL) {
        return -1;
    }
    int status = call_step_soon(st, task, exc);
    Py_DECREF(exc);
    return status;
}

/* ---- one step ---------------------------------------------------------- */

/* A foreign future's loop (exact fastloop futures are handled before). */
static PyObject *
future_loop_of(fl_state *st, PyObject *fut)
{
    PyObject *get_loop = PyObject_GetAttr(fut, st->asyncio.str_get_loop);
    if (get_loop != NULL) {
        PyObject *loop = PyObject_CallNoArgs(get_loop);
        Py_DECREF(get_loop);
        return loop;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return NULL;
    }
    PyErr_Clear();
    return PyObject_GetAttr(fut, st->asyncio.str_loop);
}

/* The task is now waiting on fut: if it was asked to cancel meanwhile,
 * pass that on to fut. */
static int
forward_cancel(fl_state *st, TaskObject *task, PyObject *fut)
{
    if (!task->must_cancel) {
        return 0;
    }
    PyObject *msg = task->fut.cancel_msg ? task->fut.cancel_msg : Py_None;
    PyObject *r = PyObject_CallMethodOneArg(fut, st->asyncio.str_cancel, msg);
    if (r == NULL) {
        return -1;
    }
    int cancelled = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (cancelled < 0) {
        return -1;
    }
    if (cancelled) {
        task->must_cancel = 0;
    }
    return 0;
}

/* The coroutine yielded result (consumed): decide what wakes the task. */
static int
handle_yield(fl_state *st, TaskObject *task, PyObject *result)
{
    int status;
    if (result == (PyObject *)task) {
        status = set_error_soon(st, task, "Task cannot await on itself: %R", task);
        Py_DECREF(result);
        return status;
    }
    if (is_exact_future(st, result)) {
        FutureObject *fut = (FutureObject *)result;
        if (fut->loop != task->fut.loop) {
            goto different_loop;
        }
        if (!fut->blocking) {
            goto yield_instead_of_yield_from;
        }
        fut->blocking = 0;
        if (fut->state == FUT_PENDING) {
            /* Tagged entry: the task itself, no context. */
            status = fl_future_add_callback(fut, (PyObject *)task, NULL);
        }
        else {
            status = fl_task_wakeup_soon(st, (PyObject *)task, result);
        }
        if (status < 0) {
            Py_DECREF(result);
            return -1;
        }
        Py_XSETREF(task->fut_waiter, result);
        return forward_cancel(st, task, result);
    }
    if (result == Py_None) {
        /* A bare yield gives up one iteration of the loop. */
        Py_DECREF(result);
        return call_step_soon(st, task, NULL);
    }

    /* Anything else that follows the Future protocol. */
    PyObject *blocking_obj = PyObject_GetAttr(result, st->asyncio.str_blocking);
    if (blocking_obj == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            Py_DECREF(result);
            return -1;
        }
        PyErr_Clear();
    }
    if (blocking_obj != NULL && blocking_obj != Py_None) {
        int blocking = PyObject_IsTrue(blocking_obj);
        Py_DECREF(blocking_obj);
        if (blocking < 0) {
            Py_DECREF(result);
            return -1;
        }
        PyObject *loop = future_loop_of(st, result);
        if (loop == NULL) {
            Py_DECREF(result);
            return -1;
        }
        int same_loop = loop == task->fut.loop;
        Py_DECREF(loop);
        if (!same_loop) {
            goto different_loop;
        }
        if (!blocking) {
            goto yield_instead_of_yield_from;
        }
        if (PyObject_SetAttr(result, st->asyncio.str_blocking, Py_False) < 0) {
            Py_DECREF(result);
            return -1;
        }
        PyObject *wakeup = PyCFunction_NewEx(&fl_task_wakeup_def, (PyObject *)task, NULL);
        if (wakeup == NULL) {
            Py_DECREF(result);
            return -1;
        }
        PyObject *stack[3] = {result, wakeup, task->context};
        PyObject *r = PyObject_VectorcallMethod(st->asyncio.str_add_done_callback, stack,
                                                2 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                                st->asyncio.kw_context);
        Py_DECREF(wakeup);
        if (r == NULL) {
            Py_DECREF(result);
            return -1;
        }
        Py_DECREF(r);
        Py_XSETREF(task->fut_waiter, result);
        return forward_cancel(st, task, result);
    }
    Py_XDECREF(blocking_obj);
    if (PyGen_Check(result)) {
        status = set_error_soon(st, task,
                                "yield was used instead of yield from for generator "
                                "in task %R with %R", task, result);
    }
    else {
        status = set_error_soon(st, task, "Task got bad yield: %R", result);
    }
    Py_DECREF(result);
    return status;

different_loop:
    status = set_error_soon(st, task, "Task %R got Future %R attached to a different loop",
                            task, result);
    Py_DECREF(result);
    return status;

yield_instead_of_yield_from:
    status = set_error_soon(st, task, "yield was used instead of yield from in task %R with %R",
                            task, result);
    Py_DECREF(result);
    return status;
}

static int finish_step(fl_state *st, TaskObject *task, PySendResult gen_status,
                       PyObject *result);

static int
is_stop_iteration(void)
{
    return PyErr_ExceptionMatches(PyExc_StopIteration);
}

/* Run the coroutine one step (send None, or throw exc in) and act on the
 * outcome: asyncio's Task.__step_run_and_handle_result. */
static int
step_run_and_handle_result(fl_state *st, TaskObject *task, PyObject *exc)
{
    PyObject *coro = task->coro;
    if (coro == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Task object");
        return -1;
    }
    /* The coroutine may re-initialize or clear its own task. */
    Py_INCREF(coro);
    PyObject *result = NULL;
    PySendResult gen_status;
    if (exc == NULL) {
        gen_status = PyIter_Send(coro, Py_None, &result);
    }
    else {
        result = PyObject_CallMethodOneArg(coro, st->asyncio.str_throw, exc);
        gen_status = PYGEN_NEXT;
        if (result == NULL) {
            gen_status = PYGEN_ERROR;
            if (is_stop_iteration()) {
                PyObject *stop = fl_fetch_exception();
                result = PyObject_GetAttrString(stop, "value");
                Py_DECREF(stop);
                if (result == NULL) {
                    Py_DECREF(coro);
                    return -1;
                }
                gen_status = PYGEN_RETURN;
            }
        }
    }
    Py_DECREF(coro);

    int status = finish_step(st, task, gen_status, result);
    if (task->fut.state != FUT_PENDING) {
        unregister_done_task(st, task);
    }
    return status;
}

static int
finish_step(fl_state *st, TaskObject *task, PySendResult gen_status, PyObject *result)
{
    FutureObject *fut = &task->fut;
    if (gen_status == PYGEN_RETURN) {
        int r;
        if (task->must_cancel) {
            /* Cancelled right before the coroutine returned. */
            task->must_cancel = 0;
            r = fl_future_cancel(fut, fut->cancel_msg);
        }
        else {
            r = fl_future_set_result(fut, result);
        }
        Py_DECREF(result);
        return r < 0 ? -1 : 0;
    }
    if (gen_status == PYGEN_ERROR) {
        if (PyErr_ExceptionMatches(st->asyncio.CancelledError)) {
            /* Kept, to be chained when the task's result is asked for. */
            PyObject *cancelled = fl_fetch_exception();
            Py_XSETREF(fut->cancelled_exc, cancelled);
            return fl_future_cancel(fut, NULL) < 0 ? -1 : 0;
        }
        PyObject *error = fl_fetch_exception();
        if (fl_future_set_exception(fut, error) < 0) {
            Py_DECREF(error);
            return -1;
        }
        if (PyErr_GivenExceptionMatches(error, PyExc_KeyboardInterrupt)
                || PyErr_GivenExceptionMatches(error, PyExc_SystemExit)) {
            fl_restore_exception(error);
            return -1;
        }
        Py_DECREF(error);
        return 0;
    }
    return handle_yield(st, task, result);
}

/* The checks before a step, then the step: asyncio's Task.__step minus
 * entering and leaving the task. */
static int
step_body(fl_state *st, TaskObject *task, PyObject *exc)
{
    if (task->fut.state != FUT_PENDING) {
        PyErr_Format(st->asyncio.InvalidStateError, "_step(): already done: %R, %R",
                     task, exc ? exc : Py_None);
        return -1;
    }
    PyObject *owned = NULL;
    if (task->must_cancel) {
        if (exc != NULL) {
            int is_cancel = PyObject_IsInstance(exc, st->asyncio.CancelledError);
            if (is_cancel < 0) {
                return -1;
            }
            if (!is_cancel) {
                exc = NULL;
            }
        }
        if (exc == NULL) {
            exc = owned = fl_future_make_cancelled_error(&task->fut);
            if (exc == NULL) {
                return -1;
            }
        }
        task->must_cancel = 0;
    }
    Py_CLEAR(task->fut_waiter);
    int status = step_run_and_handle_result(st, task, exc);
    Py_XDECREF(owned);
    return status;
}

static int
task_step(fl_state *st, TaskObject *task, PyObject *exc)
{
    if (fl_future_ensure_alive(&task->fut) < 0) {
        return -1;
    }
    PyObject *loop = task->fut.loop;
    /* The step may drop every other reference to the task and its loop. */
    Py_INCREF(task);
    Py_INCREF(loop);
    int status = enter_task(st, loop, (PyObject *)task);
    if (status == 0) {
        status = step_body(st, task, exc);
        PyObject *error = status < 0 ? fl_fetch_exception() : NULL;
        if (leave_task(st, loop, (PyObject *)task) < 0) {
            if (error != NULL) {
                /* Keep both: the step's error becomes the context. */
                PyObject *leave_error = fl_fetch_exception();
                PyException_SetContext(leave_error, error);
                error = leave_error;
            }
            else {
                error = fl_fetch_exception();
            }
            status = -1;
        }
        if (error != NULL) {
            fl_restore_exception(error);
        }
    }
    Py_DECREF(loop);
    Py_DECREF(task);
    return status;
}

static int
task_wakeup(fl_state *st, TaskObject *task, PyObject *fut)
{
    if (is_exact_future(st, fut)) {
        PyObject *result;
        int status;
        switch (fl_future_get_result((FutureObject *)fut, &result)) {
        case 0:
            /* The coroutine takes the result from the future itself. */
            Py_DECREF(result);
            return task_step(st, task, NULL);
        case 1:
            status = task_step(st, task, result);
            Py_DECREF(result);
            return status;
        default:
            break;
        }
    }
    else {
        PyObject *result = PyObject_CallMethodNoArgs(fut, st->asyncio.str_result);
        if (result != NULL) {
            Py_DECREF(result);
            return task_step(st, task, NULL);
        }
    }
    /* The future failed or was cancelled: throw that into the coroutine. */
    PyObject *exc = fl_fetch_exception();
    int status = task_step(st, task, exc);
    Py_DECREF(exc);
    return status;
}

/* ---- the ready ring ---------------------------------------------------- */

/* A step that failed (not in the coroutine, whose errors end the task, but
 * in the machinery around it) is reported as asyncio reports a failing
 * callback, with a Handle of the step or wake-up callable for context. */
static int
report_step_error(LoopObject *loop, TaskObject *task, ready_entry *e)
{
    if (fl_error_stops_loop()) {
        return -1;
    }
    PyObject *error = fl_fetch_exception();
    PyObject *callable = PyCFunction_NewEx(e->c ? &fl_task_wakeup_def : &fl_task_step_def,
                                           (PyObject *)task, NULL);
    PyObject *args = NULL;
    if (callable != NULL) {
        args = e->c ? PyTuple_Pack(1, e->c) : (e->b ? PyTuple_Pack(1, e->b) : PyTuple_New(0));
    }
    if (args == NULL) {
        Py_XDECREF(callable);
        Py_DECREF(error);
        return -1;
    }
    fl_restore_exception(error);
    int status = fl_report_call_error(loop, callable, args, task->context);
    Py_DECREF(args);
    Py_DECREF(callable);
    return status;
}

int
fl_task_run_entry(LoopObject *loop, ready_entry *e)
{
    TaskObject *task = TASK(e->a);
    PyObject *context = task->context;
    int status;
    if (context == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Task object");
        return report_step_error(loop, task, e);
    }
    Py_INCREF(context);
    task->requeued = 0;
    status = PyContext_Enter(context);
    if (status == 0) {
        status = e->c ? task_wakeup(loop->state, task, e->c)
                      : task_step(loop->state, task, e->b);
        if (PyContext_Exit(context) < 0) {
            status = -1;
        }
    }
    Py_DECREF(context);
    if (task->in_ready_tasks && !task->requeued) {
        /* Waiting on a future now (or done): no ring holds it any more. */
        if (graduate(loop->state, task) < 0 && status == 0) {
            status = -1;
        }
    }
    if (status < 0) {
        return report_step_error(loop, task, e);
    }
    return 0;
}

/* ---- creation ---------------------------------------------------------- */

static int
is_coroutine(fl_state *st, PyObject *coro)
{
    if (PyCoro_CheckExact(coro)) {
        return 1;
    }
    PyObject *types = st->asyncio.iscoroutine_types;
    int known = PySet_Contains(types, (PyObject *)Py_TYPE(coro));
    if (known != 0) {
        return known;
    }
    PyObject *r = PyObject_CallOneArg(st->asyncio.iscoroutine, coro);
    if (r == NULL) {
        return -1;
    }
    int yes = PyObject_IsTrue(r);
    Py_DECREF(r);
    /* As asyncio does, remember at most a hundred accepted types. */
    if (yes > 0 && PySet_GET_SIZE(types) < 100
            && PySet_Add(types, (PyObject *)Py_TYPE(coro)) < 0) {
        return -1;
    }
    return yes;
}

static int
eager_start(fl_state *st, TaskObject *task)
{
    PyObject *loop = Py_NewRef(task->fut.loop);
    PyObject *self = (PyObject *)task;
    PyObject *prev = swap_current_task(st, loop, self);
    if (prev == NULL) {
        Py_DECREF(loop);
        return -1;
    }
    int status = fl_call_hook(st->asyncio.register_eager_task, self);
    if (status == 0) {
        /* The step may re-initialize the task, replacing its context:
         * exit the one entered. */
        PyObject *context = Py_NewRef(task->context);
        status = PyContext_Enter(context);
        if (status == 0) {
            status = step_run_and_handle_result(st, task, NULL);
            if (PyContext_Exit(context) < 0) {
                status = -1;
            }
        }
        Py_DECREF(context);
        PyObject *error = status < 0 ? fl_fetch_exception() : NULL;
        if (fl_call_hook(st->asyncio.unregister_eager_task, self) < 0 && error == NULL) {
            error = fl_fetch_exception();
        }
        if (error != NULL) {
            fl_restore_exception(error);
            status = -1;
        }
    }
    PyObject *error = status < 0 ? fl_fetch_exception() : NULL;
    PyObject *current = swap_current_task(st, loop, prev);
    Py_DECREF(prev);
    Py_DECREF(loop);
    if (current == NULL) {
        if (error != NULL) {
            PyObject *swap_error = fl_fetch_exception();
            PyException_SetContext(swap_error, error);
            error = swap_error;
        }
        else {
            error = fl_fetch_exception();
        }
    }
    else {
        Py_DECREF(current);
    }
    if (task->fut.state == FUT_PENDING) {
        if (fl_registry_add(st, task) < 0 && error == NULL) {
            error = fl_fetch_exception();
        }
    }
    else {
        /* Done at once: the coroutine is finished and no longer needed. */
        Py_CLEAR(task->coro);
    }
    if (error != NULL) {
        fl_restore_exception(error);
        return -1;
    }
    return 0;
}

static int
task_init(fl_state *st, TaskObject *task, PyObject *coro, PyObject *loop, PyObject *name,
          PyObject *context, int eager)
{
    /* __init__ may run again on a live task. */
    unlist_ready(st, task);
    if (fl_future_init(&task->fut, loop) < 0) {
        return -1;
    }
    int is_coro = is_coroutine(st, coro);
    if (is_coro < 0) {
        return -1;
    }
    if (!is_coro) {
        /* __del__ must not report a task that never was one. */
        task->log_destroy_pending = 0;
        PyErr_Format(PyExc_TypeError, "a coroutine was expected, got %R", coro);
        return -1;
    }
    PyObject *ctx;
    if (context == NULL || context == Py_None) {
        ctx = PyContext_CopyCurrent();
        if (ctx == NULL) {
            return -1;
        }
    }
    else {
        ctx = Py_NewRef(context);
    }
    Py_XSETREF(task->context, ctx);
    Py_CLEAR(task->fut_waiter);
    task->must_cancel = 0;
    task->log_destroy_pending = 1;
    task->num_cancels_requested = 0;
    Py_XSETREF(task->coro, Py_NewRef(coro));
    if (name == NULL || name == Py_None) {
        /* "Task-N" is only formatted if somebody asks for it. */
        Py_CLEAR(task->name);
        task->name_number = ++st->task_name_counter;
    }
    else {
        PyObject *str = PyUnicode_CheckExact(name) ? Py_NewRef(name) : PyObject_Str(name);
        if (str == NULL) {
            return -1;
        }
        Py_XSETREF(task->name, str);
    }
    if (eager) {
        PyObject *r = PyObject_CallMethodNoArgs(task->fut.loop, st->asyncio.str_is_running);
        if (r == NULL) {
            return -1;
        }
        int running = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (running < 0) {
            return -1;
        }
        if (running) {
            return eager_start(st, task);
        }
    }
    LoopObject *ring = st->asyncio.ready_tasks ? fl_future_ring(&task->fut) : NULL;
    int in_ring = ring != NULL && ring->running;
    if (call_step_soon(st, task, NULL) < 0) {
        return -1;
    }
    if (in_ring && task->registered == NULL) {
        return list_ready(st, task);
    }
    return fl_registry_add(st, task);
}

static int
Task_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return -1;
    }
    PyObject *coro, *loop = Py_None, *name = Py_None, *context = Py_None;
    int eager = 0;
#if PY_VERSION_HEX >= 0x030C0000
    static char *kwlist[] = {"coro", "loop", "name", "context", "eager_start", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOp:Task", kwlist,
                                     &coro, &loop, &name, &context, &eager)) {
        return -1;
    }
#else
    static char *kwlist[] = {"coro", "loop", "name", "context", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOO:Task", kwlist,
                                     &coro, &loop, &name, &context)) {
        return -1;
    }
#endif
    return task_init(st, TASK(self), coro, loop, name, context, eager);
}

PyObject *
fl_loop_create_task(LoopObject *self, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    static const char *const names[] = {"coro", "name", "context"};
    PyObject *argv[3];
    if (fl_parse_args("create_task", args, nargs, kwnames, names, 3, 1, 1, argv) < 0) {
        return NULL;
    }
    PyObject *coro = argv[0];
    PyObject *name = argv[1] ? argv[1] : Py_None;
    PyObject *context = argv[2] ? argv[2] : Py_None;
    if (self->closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return NULL;
    }
    fl_state *st = self->state;
    PyObject *factory = self->task_factory;
    if (factory != NULL) {
        factory = Py_NewRef(factory);   /* the factory may reset it */
        PyObject *stack[5] = {(PyObject *)self, factory, coro, name, context};
        PyObject *task = PyObject_VectorcallMethod(st->asyncio.str_create_task_by_factory,
                                                   stack, 5, NULL);
        Py_DECREF(factory);
        return task;
    }
    /* No Python frame of ours is on the stack: the source traceback of a
     * debug-mode task ends at the caller, as asyncio's does once it has
     * dropped its create_task() frame. */
    PyTypeObject *type = st->TaskType;
    PyObject *task = type->tp_alloc(type, 0);
    if (task == NULL) {
        return NULL;
    }
    if (task_init(st, TASK(task), coro, (PyObject *)self, name, context, 0) < 0) {
        Py_DECREF(task);
        return NULL;
    }
    return task;
}

/* ---- Python-visible methods -------------------------------------------- */

static PyObject *
Task_step_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "__step() takes at most 1 argument (%zd given)", nargs);
        return NULL;
    }
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    PyObject *exc = nargs ? args[0] : NULL;
    if (task_step(st, TASK(self), exc == Py_None ? NULL : exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Task_wakeup_method(PyObject *self, PyObject *fut)
{
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL || task_wakeup(st, TASK(self), fut) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Task_cancel(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"msg"};
    PyObject *msg;
    if (fl_parse_args("cancel", args, nargs, kwnames, names, 1, 1, 0, &msg) < 0) {
        return NULL;
    }
    msg = msg ? msg : Py_None;
    TaskObject *task = TASK(self);
    task->fut.log_tb = 0;
    if (task->fut.state != FUT_PENDING) {
        Py_RETURN_FALSE;
    }
    task->num_cancels_requested++;
    if (task->fut_waiter != NULL) {
        fl_state *st = fl_state_from_type(Py_TYPE(self));
        if (st == NULL) {
            return NULL;
        }
        PyObject *waiter = Py_NewRef(task->fut_waiter);
        PyObject *r = PyObject_CallMethodOneArg(waiter, st->asyncio.str_cancel, msg);
        Py_DECREF(waiter);
        if (r == NULL) {
            return NULL;
        }
        int cancelled = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (cancelled < 0) {
            return NULL;
        }
        if (cancelled) {
            /* The waiter's callback wakes the task with CancelledError;
             * fut_waiter stays, in case the coroutine ignores it and the
             * waiter (a task itself) must be cancelled again. */
            Py_RETURN_TRUE;
        }
    }
    task->must_cancel = 1;
    Py_XSETREF(task->fut.cancel_msg, Py_NewRef(msg));
    Py_RETURN_TRUE;
}

static PyObject *
Task_cancelling(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(TASK(self)->num_cancels_requested);
}

static PyObject *
Task_uncancel(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    TaskObject *task = TASK(self);
    if (task->num_cancels_requested > 0) {
        task->num_cancels_requested--;
#if PY_VERSION_HEX >= 0x030D0000
        if (task->num_cancels_requested == 0) {
            task->must_cancel = 0;
        }
#endif
    }
    return PyLong_FromLong(task->num_cancels_requested);
}

static PyObject *
Task_get_coro(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *coro = TASK(self)->coro;
    return Py_NewRef(coro ? coro : Py_None);
}

static PyObject *
Task_get_context(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *ctx = TASK(self)->context;
    return Py_NewRef(ctx ? ctx : Py_None);
}

static PyObject *
Task_get_name(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    TaskObject *task = TASK(self);
    if (task->name == NULL) {
        if (task->fut.loop == NULL) {
            Py_RETURN_NONE;
        }
        task->name = PyUnicode_FromFormat("Task-%llu", (unsigned long long)task->name_number);
        if (task->name == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(task->name);
}

static PyObject *
Task_set_name(PyObject *self, PyObject *value)
{
    PyObject *str = PyUnicode_CheckExact(value) ? Py_NewRef(value) : PyObject_Str(value);
    if (str == NULL) {
        return NULL;
    }
    Py_XSETREF(TASK(self)->name, str);
    Py_RETURN_NONE;
}

static PyObject *
Task_get_stack(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"limit"};
    PyObject *limit;
    if (fl_parse_args("get_stack", args, nargs, kwnames, names, 1, 0, 0, &limit) < 0) {
        return NULL;
    }
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(st->asyncio.task_get_stack, self,
                                        limit ? limit : Py_None, NULL);
}

static PyObject *
Task_print_stack(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"limit", "file"};
    PyObject *argv[2];
    if (fl_parse_args("print_stack", args, nargs, kwnames, names, 2, 0, 0, argv) < 0) {
        return NULL;
    }
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(st->asyncio.task_print_stack, self,
                                        argv[0] ? argv[0] : Py_None,
                                        argv[1] ? argv[1] : Py_None, NULL);
}

static PyObject *
Task_set_result(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(result))
{
    PyErr_SetString(PyExc_RuntimeError, "Task does not support set_result operation");
    return NULL;
}

static PyObject *
Task_set_exception(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(exc))
{
    PyErr_SetString(PyExc_RuntimeError, "Task does not support set_exception operation");
    return NULL;
}

static PyObject *
Task_repr(PyObject *self)
{
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    return PyObject_CallOneArg(st->asyncio.task_repr, self);
}

/* The task is being destroyed (tp_finalize, which is also what __del__
 * calls).  It leaves asyncio's registry first, as a weak reference to it
 * would be cleared before its finalizer runs: the exception handler may
 * keep the task (the report holds it), and it no longer shows in
 * all_tasks() all the same. */
static void
Task_finalize(PyObject *self)
{
    TaskObject *task = TASK(self);
    fl_registry_remove(task);
    if (task->fut.loop != NULL && task->fut.state == FUT_PENDING && task->log_destroy_pending) {
        PyObject *saved = fl_fetch_exception();
        PyObject *context = Py_BuildValue("{sOss}", "task", self,
                                          "message", "Task was destroyed but it is pending!");
        if (context != NULL && task->fut.source_tb != NULL
                && PyDict_SetItemString(context, "source_traceback", task->fut.source_tb) < 0) {
            Py_CLEAR(context);
        }
        if (fl_report_to_loop(self, task->fut.loop, context) < 0) {
            PyErr_WriteUnraisable(self);
        }
        if (saved != NULL) {
            fl_restore_exception(saved);
        }
    }
    fl_future_finalize(self);
}

/* ---- attributes -------------------------------------------------------- */

static PyObject *
Task_get_log_destroy_pending(PyObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(TASK(self)->log_destroy_pending);
}

static int
Task_set_log_destroy_pending(PyObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    int flag = fl_attribute_truth(value);
    if (flag < 0) {
        return -1;
    }
    TASK(self)->log_destroy_pending = (uint8_t)flag;
    return 0;
}

static PyObject *
Task_get_must_cancel(PyObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(TASK(self)->must_cancel);
}

static PyObject *
Task_get_coro_attr(PyObject *self, void *Py_UNUSED(closure))
{
    return Task_get_coro(self, NULL);
}

static PyObject *
Task_get_fut_waiter(PyObject *self, void *Py_UNUSED(closure))
{
    PyObject *w = TASK(self)->fut_waiter;
    return Py_NewRef(w ? w : Py_None);
}

/* ---- GC ---------------------------------------------------------------- */

static int
Task_traverse(PyObject *self, visitproc visit, void *arg)
{
    TaskObject *task = TASK(self);
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(task->coro);
    Py_VISIT(task->context);
    Py_VISIT(task->name);
    Py_VISIT(task->fut_waiter);
    return fl_future_traverse(&task->fut, visit, arg);
}

static int
Task_clear(PyObject *self)
{
    TaskObject *task = TASK(self);
    Py_CLEAR(task->coro);
    Py_CLEAR(task->context);
    Py_CLEAR(task->name);
    Py_CLEAR(task->fut_waiter);
    fl_registry_remove(task);
    fl_future_clear(&task->fut);
    Py_CLEAR(task->fut.dict);
    return 0;
}

static void
Task_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (PyObject_CallFinalizerFromDealloc(self) < 0) {
        return;     /* resurrected by the exception handler */
    }
    PyObject_GC_UnTrack(self);
    if (TASK(self)->fut.weakreflist != NULL) {
        PyObject_ClearWeakRefs(self);
    }
    (void)Task_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

#define FASTCALL_KW (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef Task_methods[] = {
    {"cancel", (PyCFunction)(void (*)(void))Task_cancel, FASTCALL_KW,
     "cancel(msg=None): ask the task to cancel itself (CancelledError is "
     "thrown into the coroutine on its next step)."},
    {"cancelling", Task_cancelling, METH_NOARGS,
     "Return the number of pending cancellation requests."},
    {"uncancel", Task_uncancel, METH_NOARGS,
     "Decrement the number of pending cancellation requests; return it."},
    {"get_coro", Task_get_coro, METH_NOARGS, "Return the task's coroutine."},
    {"get_context", Task_get_context, METH_NOARGS,
     "Return the contextvars.Context the task runs in."},
    {"get_name", Task_get_name, METH_NOARGS, "Return the task's name."},
    {"set_name", Task_set_name, METH_O, "Set the task's name."},
    {"get_stack", (PyCFunction)(void (*)(void))Task_get_stack, FASTCALL_KW,
     "get_stack(*, limit=None): the frames of the task's coroutine."},
    {"print_stack", (PyCFunction)(void (*)(void))Task_print_stack, FASTCALL_KW,
     "print_stack(*, limit=None, file=None): print the task's stack or traceback."},
    {"set_result", Task_set_result, METH_O, NULL},
    {"set_exception", Task_set_exception, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Task_getset[] = {
    {"_log_destroy_pending", Task_get_log_destroy_pending, Task_set_log_destroy_pending,
     NULL, NULL},
    {"_must_cancel", Task_get_must_cancel, NULL, NULL, NULL},
    {"_coro", Task_get_coro_attr, NULL, NULL, NULL},
    {"_fut_waiter", Task_get_fut_waiter, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Task_slots[] = {
    {Py_tp_doc, "fastloop's Task: asyncio.Task's API, in C, stepping its "
                "coroutine straight from fastloop's ready queue."},
    {Py_tp_init, Task_init},
    {Py_tp_repr, Task_repr},
    {Py_tp_methods, Task_methods},
    {Py_tp_getset, Task_getset},
    {Py_tp_traverse, Task_traverse},
    {Py_tp_clear, Task_clear},
    {Py_tp_finalize, Task_finalize},
    {Py_tp_dealloc, Task_dealloc},
    {0, NULL},
};

PyType_Spec fl_task_spec = {
    .name = "fastloop.Task",
    .basicsize = sizeof(TaskObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = Task_slots,
};
