/*
 * fault.c: what happens at a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP), as in
 * Traffic Server's crash_logger_invoke: SIGCONT the helper, write the payload, close the
 * socket, wait for the helper to exit; then give the signal back to the program.
 *
 * Async-signal-safe from entry to re-raise: system calls, memcpy and a static buffer only (no
 * malloc, no stdio, no locks). One thread reports; another thread faulting meanwhile waits for
 * the process to die; a fault in the reporting thread itself (a bug here, or a second signal)
 * takes the default action at once.
 *
 * Order with the program's own handlers (see libinvoker-client(3)):
 *   - a handler the program installed AFTER us (through sigaction/signal, which we interpose)
 *     runs FIRST. If it returns, the fault counts as handled (a JVM's safepoint poll, a GC's
 *     write barrier, a guard page it unprotects) and we do nothing: the instruction runs again.
 *     If it resets the disposition to SIG_DFL and returns or re-raises (what crash handlers
 *     do), the fault comes back to us and is reported (with the kernel's siginfo of the
 *     original fault, not the re-raise's).
 *   - the disposition in place BEFORE us (we were linked in or loaded late) runs AFTER the
 *     report: we reinstall it and call it with the fault's siginfo and context, or re-raise the
 *     signal with the default action, so the program dies of its own signal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int is_function(const struct sigaction *action) {
    return (action->sa_flags & SA_SIGINFO) ? action->sa_sigaction != NULL
                                           : (action->sa_handler != SIG_DFL && action->sa_handler != SIG_IGN);
}

/* Calls the program's handler for `sig` as the kernel would have: its mask added while it runs. */
static void call_program_handler(struct ivc_slot *slot, int sig, siginfo_t *info, void *context) {
    struct sigaction action = slot->program;
    sigset_t previous;
    if (action.sa_flags & SA_RESETHAND) {
        slot->program.sa_handler = SIG_DFL;
        slot->program.sa_flags &= ~SA_SIGINFO;
    }
    pthread_sigmask(SIG_BLOCK, &action.sa_mask, &previous);
    if (action.sa_flags & SA_SIGINFO) action.sa_sigaction(sig, info, context);
    else action.sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

/* Sends the crash to the helper and waits until it has captured us (it exits then). */
static void report(int sig, siginfo_t *info, void *context) {
    static unsigned char request[IVC_REQUEST_FIXED + IVC_REASON_MAX];
    if (ivc_helper.pid <= 0 || ivc_helper.owner != getpid() || !ivc_descriptors_intact()) return;
    size_t length = ivc_build_request(request, sig, info, context, NULL);
    kill(ivc_helper.pid, SIGCONT);
    ivc_write_all(ivc_helper.socket, request, length);
    close(ivc_helper.socket);
    ivc_helper.socket = -1;
    while (ivc_await_helper()) {
    }
}

/* Gives the signal back to the program's disposition from before us, or the default action. */
static void give_back(struct ivc_slot *slot, int sig, siginfo_t *info, void *context) {
    struct sigaction restore = slot->program;
    slot->ours = 0;
    if (!slot->set_after_us && is_function(&restore)) {
        ivc_real_sigaction()(sig, &restore, NULL);
        call_program_handler(slot, sig, info, context);
        return;
    }
    memset(&restore, 0, sizeof restore);
    restore.sa_handler = SIG_DFL;
    sigemptyset(&restore.sa_mask);
    ivc_real_sigaction()(sig, &restore, NULL);
    /* Blocked while we run: delivered, with the default action, as the handler returns. */
    raise(sig);
}

/* The last fault handed to a handler the program installed after us. When that handler gives
 * up by re-raising (Python's faulthandler does), the signal comes back with SI_TKILL and the
 * kernel's siginfo (the faulting address, the cause) would be lost: the report uses this one. */
static struct {
    pid_t tid;
    int sig;
    siginfo_t info;
} delegated;

void ivc_on_fault(int sig, siginfo_t *info, void *context) {
    struct ivc_slot *slot = &ivc_slots[sig];
    int saved = errno;
    if (slot->set_after_us && is_function(&slot->program)) {
        if (info != NULL && info->si_code > 0) {
            delegated.tid = ivc_gettid();
            delegated.sig = sig;
            memcpy(&delegated.info, info, sizeof *info);
        }
        call_program_handler(slot, sig, info, context);
        errno = saved;
        return;
    }
    pid_t tid = ivc_gettid();
    pid_t expected = 0;
    while (!__atomic_compare_exchange_n(&ivc_busy, &expected, tid, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        if (expected == tid) {
            /* A fault while this thread reports: straight to the default action. */
            struct sigaction fallback;
            memset(&fallback, 0, sizeof fallback);
            fallback.sa_handler = SIG_DFL;
            ivc_real_sigaction()(sig, &fallback, NULL);
            raise(sig);
            return;
        }
        /* Another thread reports (or a snapshot is being taken): wait for it to finish. */
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&pause, NULL);
        expected = 0;
    }
    if (info != NULL && info->si_code <= 0 && info->si_pid == getpid() && delegated.tid == tid && delegated.sig == sig) {
        info = &delegated.info;
    }
    report(sig, info, context);
    give_back(slot, sig, info, context);
    __atomic_store_n(&ivc_busy, 0, __ATOMIC_SEQ_CST);
    errno = saved;
}
