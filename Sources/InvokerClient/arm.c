/*
 * arm.c: libinvoker-client's start-up, as Traffic Server's crash_logger_init does it: a socket
 * pair, the helper exec'd as `invoker --syslog --wait --host TRIPLET --client --target PID`
 * with one end on its standard input, PR_SET_PTRACER for Yama, then a wait until the helper has
 * stopped itself; then the fault handlers, on an alternate signal stack.
 *
 * Not a surprising child. A program that waits for all its children (wait(-1) in a loop, a
 * shell, a supervisor) would hang on a parked helper that is its child, and see its stops. So
 * the helper is not our child: we clone() a small relay R with no exit signal and no exec (a
 * "clone child": wait(), wait(-1) and waitpid(-1, …) without __WALL/__WCLONE never see it, and
 * it sends no SIGCHLD), and R forks and execs the helper H (a child's exit signal is reset to
 * SIGCHLD by execve, so H itself could not be a clone child). R waits for H (waitpid
 * WUNTRACED) and tells us over an event socket: 'p' each time H has parked, EOF once H has
 * exited. R dies with us (PR_SET_PDEATHSIG SIGKILL); H then wakes by its own parent-death
 * signal, finds its standard input at EOF and exits quietly; so it does when the program execs
 * another image (our descriptors close on exec; see run_relay). R runs in a session of its own
 * (no terminal signals) with every signal blocked, making only system calls (it is a copy of
 * this process, not a new program).
 *
 * Environment: INVOKER_HELPER (default /usr/local/bin/invoker), INVOKER_CLIENT_DISABLE (set: do
 * nothing), INVOKER_LOG_DIR and INVOKER_CONFIG (read by the helper), INVOKER_SNAPSHOT_SIGNAL
 * (snapshot.c). The helper is started without LD_PRELOAD, so it does not load us again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define IVC_HOST "x86_64-pc-linux-gnu"
#elif defined(__aarch64__)
#define IVC_HOST "aarch64-unknown-linux-gnu"
#else
#define IVC_HOST "unknown-linux-gnu"
#endif

#define IVC_DEFAULT_HELPER "/usr/local/bin/invoker"

struct ivc_helper ivc_helper = {.pid = -1, .relay = -1, .socket = -1, .events = -1, .owner = -1};
struct ivc_slot ivc_slots[NSIG];
pid_t ivc_busy = 0;
const int ivc_fatal_signals[6] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};

int ivc_is_fatal(int sig) {
    for (int i = 0; i < 6; i++) {
        if (ivc_fatal_signals[i] == sig) return 1;
    }
    return 0;
}

/* What the relay needs, prepared before the clone (no malloc after it). */
struct launch {
    const char *path;
    char *argv[10];
    char **envp;
    pid_t target;
    int helper_end;  /* becomes H's standard input */
    int event_end;   /* R's end of the event socket */
};

/* The helper's environment: ours without LD_PRELOAD. */
static char **helper_environment(void) {
    size_t count = 0;
    while (environ[count] != NULL) count++;
    char **copy = calloc(count + 1, sizeof *copy);
    if (copy == NULL) return environ;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) copy[kept++] = environ[i];
    }
    return copy;
}

static void close_from(int lowest) {
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) != 0) {
        for (int fd = lowest; fd < 4096; fd++) close(fd);
    }
}

/* In the relay, H has changed state (SIGCHLD): 'p' for a stop, exit when it is gone. A helper
 * that parks again after the program has gone is woken once more (it then reads EOF). */
static void relay_reap(pid_t helper, int program_gone) {
    for (;;) {
        int status;
        pid_t waited = waitpid(helper, &status, WUNTRACED | WNOHANG);
        if (waited < 0 && errno == EINTR) continue;
        if (waited == 0) return;
        if (waited < 0 || !WIFSTOPPED(status)) _exit(0);
        if (program_gone) kill(helper, SIGCONT);
        else if (write(4, "p", 1) != 1) kill(helper, SIGCONT);
    }
}

/* The relay R: system calls only, then _exit. It waits for two things at once: SIGCHLD from the
 * helper (a signalfd, all signals being blocked), and the program's end of the event socket
 * closing without a crash (the program exec'd another image, or exited without running our
 * destructor): then the helper is woken, finds its standard input at EOF and exits, instead of
 * staying parked for nobody. */
static void run_relay(const struct launch *launch) {
    sigset_t all, child;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != launch->target) _exit(0);
    setsid();
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) ivc_real_sigaction()(sig, &default_action, NULL);
    }
    /* Descriptors: keep only the helper's end and our event end, as 3 and 4. */
    int helper_end = fcntl(launch->helper_end, F_DUPFD, 10);
    int event_end = fcntl(launch->event_end, F_DUPFD, 10);
    if (helper_end < 0 || event_end < 0 || dup2(helper_end, 3) < 0 || dup2(event_end, 4) < 0) _exit(0);
    close_from(5);
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    /* Made before the helper exists: a SIGCHLD from it stays pending for the signalfd. */
    int changes = signalfd(-1, &child, SFD_CLOEXEC);
    if (changes < 0) _exit(0);
    pid_t helper = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);
    if (helper == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(3, STDIN_FILENO); /* dup2 clears close-on-exec */
        close_from(3);
        execve(launch->path, launch->argv, launch->envp);
        _exit(127);
    }
    close(3);
    if (helper < 0 || write(4, &helper, sizeof helper) != (ssize_t)sizeof helper) _exit(0);
    int program_gone = 0;
    for (;;) {
        struct pollfd watched[2] = {
            {.fd = program_gone ? -1 : 4, .events = POLLIN | POLLRDHUP, .revents = 0},
            {.fd = changes, .events = POLLIN, .revents = 0},
        };
        if (poll(watched, 2, -1) < 0) {
            if (errno == EINTR) continue;
            _exit(0);
        }
        if (watched[1].revents & POLLIN) {
            struct signalfd_siginfo info;
            if (read(changes, &info, sizeof info) < 0 && errno != EAGAIN && errno != EINTR) _exit(0);
            relay_reap(helper, program_gone);
        }
        if (!program_gone && (watched[0].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) {
            char unexpected;
            ssize_t got = recv(4, &unexpected, 1, MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                program_gone = 1;
                kill(helper, SIGCONT);
            }
        }
    }
}

/* Starts the relay and the helper and waits until the helper has parked; 0 when it has. */
static int start_helper(const char *path) {
    static char target_text[16];
    struct launch launch = {.path = path, .target = getpid()};
    int pair[2], events[2];
    const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    snprintf(target_text, sizeof target_text, "%d", (int)launch.target);
    char *argv[] = {(char *)base, "--syslog", "--wait", "--host", IVC_HOST, "--client", "--target", target_text, NULL};
    memcpy(launch.argv, argv, sizeof argv);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        ivc_say("cannot create the helper's socket pair", strerror(errno));
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, events) != 0) {
        ivc_say("cannot create the helper's event socket", strerror(errno));
        close(pair[0]);
        close(pair[1]);
        return -1;
    }
    launch.envp = helper_environment();
    launch.helper_end = pair[0];
    launch.event_end = events[1];
    /* clone() with flags 0: a copy of this process like fork(), but with no exit signal (see the
     * top of this file). No atfork handlers run: the relay only makes system calls. */
    pid_t relay = (pid_t)syscall(SYS_clone, 0UL, NULL, NULL, NULL, 0UL);
    if (relay == 0) run_relay(&launch);
    if (launch.envp != environ) free(launch.envp);
    close(pair[0]);
    close(events[1]);
    if (relay < 0) {
        ivc_say("cannot start the helper", strerror(errno));
        close(pair[1]);
        close(events[0]);
        return -1;
    }
    ivc_helper.relay = relay;
    ivc_helper.socket = pair[1];
    ivc_helper.events = events[0];
    ivc_helper.owner = launch.target;
    ivc_remember_descriptors();
    pid_t helper = -1;
    ssize_t got;
    do {
        got = read(ivc_helper.events, &helper, sizeof helper);
    } while (got < 0 && errno == EINTR);
    ivc_helper.pid = got == (ssize_t)sizeof helper ? helper : -1;
    if (ivc_helper.pid > 0) prctl(PR_SET_PTRACER, ivc_helper.pid, 0, 0, 0); /* EINVAL without Yama */
    if (ivc_helper.pid <= 0 || !ivc_await_helper()) {
        ivc_say("the helper did not park; crashes of this process will not be reported", path);
        if (ivc_helper.relay > 0) {
            kill(ivc_helper.relay, SIGKILL);
            ivc_await_helper();
        }
        return -1;
    }
    return 0;
}

static void install_fault_handlers(void) {
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = ivc_on_fault;
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    for (int i = 0; i < 6; i++) {
        int sig = ivc_fatal_signals[i];
        if (ivc_real_sigaction()(sig, &ours, &ivc_slots[sig].program) == 0) ivc_slots[sig].ours = 1;
    }
}

/* Gives every fault back to the program's own dispositions. */
static void restore_program_handlers(void) {
    for (int i = 0; i < 6; i++) {
        int sig = ivc_fatal_signals[i];
        if (!ivc_slots[sig].ours) continue;
        ivc_slots[sig].ours = 0;
        ivc_real_sigaction()(sig, &ivc_slots[sig].program, NULL);
    }
}

/* fork() without exec: the child must not speak to its parent's helper, nor keep the parent's
 * socket open. It runs unreported, with its own handlers; an exec'd program is armed again by
 * its own load of the library (LD_PRELOAD carries it on). */
static void after_fork_in_child(void) {
    if (ivc_helper.socket >= 0) close(ivc_helper.socket);
    if (ivc_helper.events >= 0) close(ivc_helper.events);
    ivc_helper.socket = -1;
    ivc_helper.events = -1;
    ivc_helper.pid = -1;
    ivc_helper.relay = -1;
    ivc_busy = 0;
    restore_program_handlers();
}

/* Relays of the image this process ran before an exec: each ends once its helper has (see
 * run_relay), as a clone child nobody else reaps. Only exited ones, never waiting. */
static void reap_previous_relays(void) {
    int status;
    int saved = errno;
    while (waitpid(-1, &status, WNOHANG | __WCLONE) > 0) {
    }
    errno = saved;
}

__attribute__((constructor)) static void ivc_arm(void) {
    ivc_real_sigaction();
    reap_previous_relays();
    if (getenv("INVOKER_CLIENT_DISABLE") != NULL) return;
    const char *path = getenv("INVOKER_HELPER");
    if (path == NULL || path[0] == '\0') path = IVC_DEFAULT_HELPER;
    if (access(path, X_OK) != 0) {
        ivc_say("no crash helper; crashes of this process will not be reported", path);
        return;
    }
    if (start_helper(path) != 0) return;
    ivc_install_alternate_stack(1);
    install_fault_handlers();
    pthread_atfork(NULL, NULL, after_fork_in_child);
    ivc_install_snapshot_signal();
}

/* A normal exit: close our end with nothing written (ATS master's clean shutdown), wake the
 * helper and wait until it is gone, so it does not outlive us. */
__attribute__((destructor)) static void ivc_disarm(void) {
    if (ivc_helper.pid <= 0 || ivc_helper.owner != getpid() || !ivc_descriptors_intact()) return;
    pid_t expected = 0;
    if (!__atomic_compare_exchange_n(&ivc_busy, &expected, ivc_gettid(), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
    close(ivc_helper.socket);
    ivc_helper.socket = -1;
    kill(ivc_helper.pid, SIGCONT);
    while (ivc_await_helper()) {
    }
    reap_previous_relays();
}
