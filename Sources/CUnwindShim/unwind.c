// CUnwindShim: thin, prefixed wrappers of libunwind's macro-named calls, the unwinder's
// thread-local context, and sigprocmask without system calls while this thread unwinds.
#define _GNU_SOURCE
#include "CUnwindShim.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

unw_addr_space_t ivk_unw_create_addr_space(unw_accessors_t *accessors) {
    return unw_create_addr_space(accessors, 0);
}
void ivk_unw_destroy_addr_space(unw_addr_space_t space) { unw_destroy_addr_space(space); }
int ivk_unw_set_caching_policy(unw_addr_space_t space, unw_caching_policy_t policy) {
    return unw_set_caching_policy(space, policy);
}
int ivk_unw_init_remote(unw_cursor_t *cursor, unw_addr_space_t space, void *arg) {
    return unw_init_remote(cursor, space, arg);
}
int ivk_unw_step(unw_cursor_t *cursor) { return unw_step(cursor); }
int ivk_unw_get_reg(unw_cursor_t *cursor, int reg, unw_word_t *value) {
    return unw_get_reg(cursor, reg, value);
}
int ivk_unw_is_signal_frame(unw_cursor_t *cursor) { return unw_is_signal_frame(cursor); }
const char *ivk_unw_strerror(int code) { return unw_strerror(code); }

int ivk_unw_get_proc_info(unw_cursor_t *cursor, unw_proc_info_t *info) { return unw_get_proc_info(cursor, info); }

// The walk in progress on this thread: its address space and the unwinder that owns it.
static _Thread_local unw_addr_space_t current_space;
static _Thread_local void *current_context;
// While a walk is in progress: this thread's signal mask, as it was when the walk began.
static _Thread_local bool walking;
static _Thread_local sigset_t walk_mask;

void ivk_unw_begin_walk(unw_addr_space_t space, void *context) {
    pthread_sigmask(SIG_SETMASK, NULL, &walk_mask);
    current_space = space;
    current_context = context;
    walking = true;
}

void ivk_unw_end_walk(void) {
    walking = false;
    current_space = NULL;
    current_context = NULL;
}

void *ivk_unw_context(unw_addr_space_t space) {
    return space != NULL && space == current_space ? current_context : NULL;
}

// libunwind (Debian's build has no per-thread cache: UNW_CACHE_PER_THREAD falls back to the
// global one) takes its cache lock with every signal blocked, two rt_sigprocmask calls per
// frame, so that a signal handler that unwinds cannot deadlock on it. Nothing of ours unwinds in
// a signal handler (the crash guard writes a report rendered beforehand), so while a walk is in
// progress on this thread the mask change is skipped: the mask stays what it was when the walk
// began, which is what is reported as the old mask. Everywhere else, and on other threads, this
// is glibc's sigprocmask (pthread_sigmask, which also keeps glibc's internal signals out).
int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
    if (walking) {
        if (old != NULL) *old = walk_mask;
        return 0;
    }
    int result = pthread_sigmask(how, set, old);
    if (result != 0) {
        errno = result;
        return -1;
    }
    return 0;
}
