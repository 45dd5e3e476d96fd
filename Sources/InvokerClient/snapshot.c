/*
 * snapshot.c: explicit, non-fatal captures. invoker_snapshot(reason) wakes the parked helper
 * with a snapshot request (payload.c: signal number 0 and the reason), and waits
 * (waitpid WUNTRACED) until the helper has written its report and stopped itself again; the
 * program goes on. INVOKER_SNAPSHOT_SIGNAL=USR2 (or USR1, or a number) makes that signal ask for
 * one, with the reason "signal SIGUSR2 from pid N".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "invoker_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

IVC_EXPORT int invoker_snapshot(const char *reason) {
    static unsigned char request[IVC_REQUEST_FIXED + IVC_REASON_MAX];
    int saved = errno;
    if (ivc_helper.pid <= 0 || ivc_helper.owner != getpid()) {
        errno = ENOTCONN;
        return -1;
    }
    pid_t expected = 0;
    if (!__atomic_compare_exchange_n(&ivc_busy, &expected, ivc_gettid(), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        errno = EBUSY;
        return -1;
    }
    if (!ivc_descriptors_intact()) {
        __atomic_store_n(&ivc_busy, 0, __ATOMIC_SEQ_CST);
        errno = ENOTCONN;
        return -1;
    }
    size_t length = ivc_build_request(request, 0, NULL, NULL, reason);
    ivc_drain_events();
    kill(ivc_helper.pid, SIGCONT);
    /* Parked again: the report is written. EOF: the helper is gone, nothing will report a crash. */
    int parked = ivc_write_all(ivc_helper.socket, request, length) == 0 && ivc_await_helper();
    __atomic_store_n(&ivc_busy, 0, __ATOMIC_SEQ_CST);
    errno = parked ? saved : EPIPE;
    return parked ? 0 : -1;
}

/* "signal SIGUSR2 from pid N" without stdio. */
static void on_snapshot_signal(int sig, siginfo_t *info, void *context) {
    (void)context;
    char reason[64] = "signal ";
    size_t length = strlen(reason);
    const char *name = sig == SIGUSR1 ? "SIGUSR1" : sig == SIGUSR2 ? "SIGUSR2" : "SIG?";
    memcpy(reason + length, name, strlen(name));
    length += strlen(name);
    memcpy(reason + length, " from pid ", 10);
    length += 10;
    char digits[16];
    int count = 0;
    unsigned value = info != NULL && info->si_pid > 0 ? (unsigned)info->si_pid : 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && count < 15);
    while (count > 0) reason[length++] = digits[--count];
    reason[length] = '\0';
    invoker_snapshot(reason);
}

void ivc_install_snapshot_signal(void) {
    const char *wanted = getenv("INVOKER_SNAPSHOT_SIGNAL");
    if (wanted == NULL || wanted[0] == '\0') return;
    if (strncmp(wanted, "SIG", 3) == 0) wanted += 3;
    int sig = strcmp(wanted, "USR2") == 0 ? SIGUSR2 : strcmp(wanted, "USR1") == 0 ? SIGUSR1 : atoi(wanted);
    if (sig <= 0 || sig >= NSIG || ivc_is_fatal(sig) || sig == SIGKILL || sig == SIGSTOP) {
        ivc_say("INVOKER_SNAPSHOT_SIGNAL names no usable signal", wanted);
        return;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_snapshot_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    ivc_real_sigaction()(sig, &action, NULL);
}
