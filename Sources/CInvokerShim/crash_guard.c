// crash_guard: what happens when invoker itself crashes mid-capture (libunwind's abort() on a
// damaged library mapped in the server, a trap of our own). The handler, on an alternate stack and
// with async-signal-safe calls only: lets the target's threads go (PTRACE_DETACH), writes the
// report pre-rendered so far plus a line saying where we crashed, then dies by the same signal so
// the server's waitpid() returns and it finishes dying.
//
// Only the thread that attached (the tracer) can detach. A crash of the second thread that works
// alongside it in the stopped window (Dispatcher's WindowCompanion) is relayed: that thread's
// handler hands its signal and stage over and signals the tracer with the relay signal, whose
// handler does the release, the report and the death. A report being pre-rendered on the second
// thread when the tracer crashes is waited for (bounded), after the threads are released.
#include "CInvokerShim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/// A published report: length and bytes in one allocation, so the handler sees both or neither.
struct ivk_guard_text {
    size_t length;
    char bytes[];
};

static struct ivk_guard_text *volatile guard_text;
static char guard_path[4096];
static volatile int guard_has_path;
static volatile int guard_fallback_fd = 2;
/// Each thread's own stage (the tracer's and the second thread's differ).
static __thread const char *guard_stage __attribute__((tls_model("initial-exec"))) = "starting";
static pid_t *volatile guard_tids;
static volatile size_t guard_tid_count;
/// The thread that holds the target's threads (ptrace requests must come from it).
static volatile pid_t guard_tracer;
/// The relay: the signal a second thread crashed by, and its stage (0/NULL: nothing relayed).
static int guard_relay_signal_number;
static volatile int guard_relayed_signal;
static const char *volatile guard_relayed_stage;
/// Set while a report is being pre-rendered on another thread (ivk_guard_expect_report).
static volatile int guard_report_pending;

static void guard_write(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        bytes += written;
        length -= (size_t)written;
    }
}

static void guard_write_string(int fd, const char *text) { guard_write(fd, text, strlen(text)); }

static void guard_write_number(int fd, long value) {
    char digits[24];
    int at = (int)sizeof digits;
    unsigned long magnitude = value < 0 ? (unsigned long)-value : (unsigned long)value;
    do {
        digits[--at] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0 && at > 1);
    if (value < 0) digits[--at] = '-';
    guard_write(fd, digits + at, sizeof digits - (size_t)at);
}

static void guard_sleep_millisecond(void) {
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
    nanosleep(&pause, NULL);
}

/// Releases the threads, writes the report and the crash line for `sig` while `stage`, and
/// leaves `sig` pending (blocked in here) so that it kills us on the handler's return.
static void guard_release_and_report(int sig, const char *stage) {
    int saved_errno = errno;
    // The server first: its downtime matters more than our report. (The kernel would detach
    // them at our death too, but only after a core dump of ours, if one is configured.)
    pid_t *tids = guard_tids;
    size_t count = guard_tid_count;
    for (size_t i = 0; tids != NULL && i < count; i++) ptrace(PTRACE_DETACH, tids[i], NULL, NULL);
    // A report the second thread is rendering right now: worth a short wait (the server is
    // already released), at most a second.
    for (int waited = 0; guard_report_pending && waited < 1000; waited++) guard_sleep_millisecond();

    struct ivk_guard_text *text = guard_text;
    int fd = -1;
    if (text != NULL && guard_has_path)
        fd = open(guard_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
    if (fd < 0) fd = guard_fallback_fd;
    if (text != NULL) guard_write(fd, text->bytes, text->length);
    guard_write_string(fd, "\nInvoker itself crashed: signal ");
    guard_write_number(fd, sig);
    const char *name = sigabbrev_np(sig);
    if (name != NULL) {
        guard_write_string(fd, " (SIG");
        guard_write_string(fd, name);
        guard_write_string(fd, ")");
    }
    guard_write_string(fd, " while ");
    guard_write_string(fd, stage);
    guard_write_string(fd, text != NULL ? "; this log holds what was captured before that, the server was released.\n"
                                        : "; nothing had been captured yet, the server was released.\n");
    if (fd != guard_fallback_fd) close(fd);
    errno = saved_errno;
    // SA_RESETHAND restored the default action; the signal is blocked in here, so this one stays
    // pending and kills us on return, as the server expects of a crash (also when it was sent
    // rather than raised by a fault).
    raise(sig);
}

static void guard_handler(int sig) {
    pid_t tracer = guard_tracer;
    if (guard_tid_count > 0 && tracer > 0 && tracer != (pid_t)syscall(SYS_gettid) && guard_relay_signal_number > 0) {
        // Not the tracer: it alone can detach. Hand it the crash and wait to be killed with it.
        guard_report_pending = 0;  // if this thread was rendering it, it will not come
        guard_relayed_stage = guard_stage;
        __atomic_store_n(&guard_relayed_signal, sig, __ATOMIC_SEQ_CST);
        if (syscall(SYS_tgkill, getpid(), tracer, guard_relay_signal_number) == 0) {
            // The tracer's relay handler ends the process; if it cannot (it is gone), this
            // thread does what it can after a while.
            for (int waited = 0; waited < 2000; waited++) guard_sleep_millisecond();
        }
    }
    guard_release_and_report(sig, guard_stage);
}

/// On the tracer: a second thread crashed and relayed its signal.
static void guard_relay_handler(int relay) {
    (void)relay;
    int sig = __atomic_exchange_n(&guard_relayed_signal, 0, __ATOMIC_SEQ_CST);
    if (sig == 0) return;  // a stray signal, not a relayed crash
    const char *stage = guard_relayed_stage;
    guard_release_and_report(sig, stage != NULL ? stage : "starting");
}

void ivk_guard_install(void) {
    static const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = guard_handler;
    action.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigfillset(&action.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &action, NULL);
    // The relay from a second thread: a real-time signal nothing else of ours uses.
    guard_relay_signal_number = SIGRTMIN + 2;
    struct sigaction relay;
    memset(&relay, 0, sizeof relay);
    relay.sa_handler = guard_relay_handler;
    relay.sa_flags = SA_ONSTACK | SA_RESTART;
    sigfillset(&relay.sa_mask);
    sigaction(guard_relay_signal_number, &relay, NULL);
    ivk_guard_protect_this_thread();
}

void ivk_guard_protect_this_thread(void) {
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;
    size_t size = 64 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return;
    stack_t alternate = {.ss_sp = stack, .ss_flags = 0, .ss_size = size};
    sigaltstack(&alternate, NULL);
}

void ivk_guard_set_report(const char *bytes, size_t length, const char *path, int fallback_fd) {
    struct ivk_guard_text *text = malloc(sizeof *text + length);
    if (text == NULL) return;
    text->length = length;
    memcpy(text->bytes, bytes, length);
    guard_has_path = 0;
    if (path != NULL && strlen(path) < sizeof guard_path) {
        strcpy(guard_path, path);
        guard_has_path = 1;
    }
    guard_fallback_fd = fallback_fd;
    // The previous text is not freed: the handler may be reading it (a few per run, then exit).
    __atomic_store_n(&guard_text, text, __ATOMIC_SEQ_CST);
    guard_report_pending = 0;
}

void ivk_guard_expect_report(void) { guard_report_pending = 1; }

void ivk_guard_clear_report(void) { __atomic_store_n(&guard_text, NULL, __ATOMIC_SEQ_CST); }

void ivk_guard_set_stage(const char *stage) { guard_stage = stage; }

void ivk_guard_hold(const pid_t *tids, size_t count) {
    pid_t *copy = NULL;
    if (tids != NULL && count > 0) {
        copy = malloc(count * sizeof *copy);
        if (copy == NULL) return;
        memcpy(copy, tids, count * sizeof *copy);
    }
    __atomic_store_n(&guard_tid_count, 0, __ATOMIC_SEQ_CST);
    guard_tracer = (pid_t)syscall(SYS_gettid);
    __atomic_store_n(&guard_tids, copy, __ATOMIC_SEQ_CST);
    __atomic_store_n(&guard_tid_count, copy ? count : 0, __ATOMIC_SEQ_CST);
}
