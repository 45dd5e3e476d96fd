/*
 * interpose.c: the C library functions libinvoker-client replaces (LD_PRELOAD, or linked ahead
 * of libc), each passing through to the real one (dlsym RTLD_NEXT) unless it concerns us.
 *
 *   sigaction, signal   for a fatal signal whose handler is ours, the program's call changes the
 *                       disposition we keep for it (fault.c decides the order), and the program
 *                       reads back what it set, never our handler. sigset/sysv_signal/bsd_signal
 *                       are not interposed (glibc's go straight to the kernel).
 *   pthread_create      the new thread gets an alternate signal stack of its own (64 KiB and a
 *                       guard page, freed at the thread's exit), so a stack overflow in any
 *                       thread reaches the fault handler. A thread that set its own keeps it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define IVC_ALTERNATE_STACK (64 * 1024)

typedef int (*ivc_pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef sighandler_t (*ivc_signal_fn)(int, sighandler_t);

ivc_sigaction_fn ivc_real_sigaction(void) {
    static ivc_sigaction_fn real;
    ivc_sigaction_fn found = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (found == NULL) {
        found = (ivc_sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
        __atomic_store_n(&real, found, __ATOMIC_RELEASE);
    }
    return found;
}

IVC_EXPORT int sigaction(int sig, const struct sigaction *action, struct sigaction *old) {
    if (sig <= 0 || sig >= NSIG || !ivc_is_fatal(sig) || !ivc_slots[sig].ours) {
        return ivc_real_sigaction()(sig, action, old);
    }
    struct sigaction previous = ivc_slots[sig].program;
    if (action != NULL) {
        ivc_slots[sig].program = *action;
        ivc_slots[sig].set_after_us = 1;
    }
    if (old != NULL) *old = previous;
    return 0;
}

IVC_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
    if (sig <= 0 || sig >= NSIG || !ivc_is_fatal(sig) || !ivc_slots[sig].ours) {
        static ivc_signal_fn real;
        if (real == NULL) real = (ivc_signal_fn)dlsym(RTLD_NEXT, "signal");
        return real(sig, handler);
    }
    /* glibc's signal(): BSD semantics. */
    struct sigaction action, old;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, sig);
    sigaction(sig, &action, &old);
    return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction : old.sa_handler;
}

static pthread_key_t alternate_stack_key;
static pthread_once_t alternate_stack_once = PTHREAD_ONCE_INIT;

static void release_alternate_stack(void *base) {
    stack_t disable = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&disable, NULL);
    munmap(base, IVC_ALTERNATE_STACK + (size_t)getpagesize());
}

static void make_alternate_stack_key(void) { pthread_key_create(&alternate_stack_key, release_alternate_stack); }

void ivc_install_alternate_stack(int keep_forever) {
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;
    size_t guard = (size_t)getpagesize();
    void *base = mmap(NULL, IVC_ALTERNATE_STACK + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return;
    mprotect(base, guard, PROT_NONE); /* an overflow of the alternate stack faults, not corrupts */
    stack_t alternate = {.ss_sp = (char *)base + guard, .ss_size = IVC_ALTERNATE_STACK, .ss_flags = 0};
    if (sigaltstack(&alternate, NULL) != 0) {
        munmap(base, IVC_ALTERNATE_STACK + guard);
        return;
    }
    if (!keep_forever) {
        pthread_once(&alternate_stack_once, make_alternate_stack_key);
        pthread_setspecific(alternate_stack_key, base);
    }
}

struct thread_start {
    void *(*routine)(void *);
    void *argument;
};

static void *ivc_thread_start(void *raw) {
    struct thread_start start = *(struct thread_start *)raw;
    free(raw);
    ivc_install_alternate_stack(0);
    return start.routine(start.argument);
}

IVC_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attributes, void *(*routine)(void *), void *argument) {
    static ivc_pthread_create_fn real;
    if (real == NULL) real = (ivc_pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    if (ivc_helper.pid <= 0 || ivc_helper.owner != getpid()) return real(thread, attributes, routine, argument);
    struct thread_start *start = malloc(sizeof *start);
    if (start == NULL) return real(thread, attributes, routine, argument);
    start->routine = routine;
    start->argument = argument;
    int result = real(thread, attributes, ivc_thread_start, start);
    if (result != 0) free(start);
    return result;
}
