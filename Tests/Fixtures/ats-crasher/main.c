/*
 * ats-crasher: reproduces how Apache Traffic Server forks its crash helper and hands it a crash,
 * so the end-to-end tests can run the real `invoker` binary through the real protocol.
 *
 * Usage:
 *   ats-crasher --helper PATH [--payload 9|10.2|master] [--threads N] [--mode MODE]
 *               [--odd NAME] [--ready-fd FD] [-- EXTRA HELPER ARGS...]
 *
 * Start-up (as traffic_server's crash_logger_init): socketpair(AF_UNIX, SOCK_STREAM); fork; the
 * child puts one end on stdin, closes every other descriptor but 0, 1 and 2, and execs the helper
 * as `<basename> --syslog --wait --host x86_64-pc-linux-gnu --user root EXTRA...`. The parent
 * calls prctl(PR_SET_PTRACER, child) (ATS 10.2+), then waitpid(child, WUNTRACED) and requires the
 * helper to have stopped itself (exit 3 otherwise).
 *
 * Crash (as crash_logger_invoke): a SA_SIGINFO handler for SIGSEGV, SIGBUS, SIGILL, SIGTRAP,
 * SIGFPE, SIGABRT sends SIGCONT to the helper, writes the payload, closes the socket, waits for
 * the helper to exit, then re-raises the signal with the default action.
 *
 * Payloads (x86_64 glibc: siginfo_t 128 bytes, ucontext_t 968 bytes):
 *   9       siginfo_t, ucontext_t                                             1096 bytes
 *   10.2    pid_t tid, siginfo_t, ucontext_t, uint32_t n, n bytes of text     1104 + n
 *   master  int signo, then the 10.2 payload                                  1108 + n
 *
 * Modes:
 *   segv (default), abort, bus, fpe, ill, trap: crash in fixture_crash_<mode>, called as
 *       main -> fixture_crash_outer -> fixture_crash_middle -> fixture_crash_<mode>
 *   clean        close the socket having written nothing, wait for the helper, exit 0 (ATS master)
 *   parent-exit  exit 0 without closing the socket (ATS 9.x: the helper wakes by its parent-death
 *                signal)
 *   garbage      the handler writes 200 bytes of 0xA5 instead of a payload, then behaves as segv
 *   truncated    the handler writes only the first 64 bytes of the payload, then behaves as segv
 *   die-early    the handler sends SIGCONT, writes the payload, closes, and _exit(42)s at once
 *   hang         block forever in main -> fixture_crash_outer -> fixture_crash_middle ->
 *                fixture_hang (read of a pipe nobody writes), for live captures
 *   overflow, readonly, exec, unmapped, assert: further faults for classification, each in
 *                fixture_crash_<mode> under fixture_crash_middle: unbounded recursion of
 *                fixture_recurse (the handler runs on an alternate signal stack), a write to a
 *                string literal, a call into a non-executable stack buffer, a write to an
 *                address nothing maps, and a failed assert()
 *   float        a null write in fixture_crash_float(ratio = 2.5), built at -O2 in a target of
 *                its own (Tests/Fixtures/ats-crasher-float), so ratio and its local scaled = 10.0
 *                are only in SSE registers at the fault; the handler overwrites every xmm
 *                register before the handshake, so only the signal context's saved FP state
 *                has the values (the variables tracer reads them from there)
 *   bad-stack    as segv, but worker-0 first makes the stack pages of its callers unreadable
 *                (mprotect PROT_NONE above fixture_worker_level_1's frame), so its stack can be
 *                read only down to fixture_worker_level_1
 *
 * Threads: the main thread keeps the program name (comm "ats-crasher"), as traffic_server's main
 * thread does. --threads N (default 3) starts workers named worker-0 ... worker-(N-1); each blocks
 * with the stack, innermost first:
 *   read -> fixture_worker_level_1 -> fixture_worker_level_2 -> fixture_worker_main ->
 *   start_thread -> clone3
 * The main thread crashes only after every worker has reached fixture_worker_level_1 (a pipe
 * handshake, no sleeping).
 *
 * --odd NAME: one more thread, named NAME (up to 15 bytes, any characters: "<script>x" tests that
 * a report's viewer escapes names), blocked with a stack unlike the workers', innermost first:
 *   read -> fixture_odd_wait -> fixture_odd_main -> start_thread -> clone3
 *
 * --ready-fd FD: once the helper is parked and the workers are ready, the line
 * "ready <pid> <helper-pid>\n" is written to FD.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include "ats_crasher_float.h"
#include "ats_handshake.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

_Static_assert(sizeof(siginfo_t) == 128, "siginfo_t is not the 128 bytes ATS sends");
_Static_assert(sizeof(ucontext_t) == 968, "ucontext_t is not the 968 bytes ATS sends");

static pid_t helper_pid = -1;
static int helper_socket = -1;
static const char *payload_version = "9";
static const char *mode = "segv";
static int worker_ready_pipe[2];
static int worker_block_pipe[2];

/* Keeps the compiler from turning the crash functions' locals into constants. */
static volatile int fixture_sink;

/* The payload of the chosen version for this fault, into buffer; returns its length. */
static size_t build_payload(unsigned char *buffer, size_t capacity, int sig, siginfo_t *info, void *context) {
    static const char backtrace_text[] = "fixture_crash_middle\nfixture_crash_outer\nmain\n";
    static struct ats_payload fields;
    fields.signo = sig;
    fields.tid = (pid_t)syscall(SYS_gettid);
    fields.info = *info;
    fields.context = *(ucontext_t *)context;
    fields.text_length = (uint32_t)(sizeof backtrace_text - 1);
    fields.text = backtrace_text;
    fields.text_bytes = sizeof backtrace_text - 1;
    return ats_build_payload(buffer, capacity, payload_version, &fields);
}

static void fixture_crash_handler(int sig, siginfo_t *info, void *context) {
    static unsigned char payload[4096];
    size_t length = build_payload(payload, sizeof payload, sig, info, context);
    int status;

    /* A real handler's work uses SSE registers (memcpy, formatting): overwrite them all, so the
     * interrupted code's values survive only in the signal context's saved FP state. */
    __asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
                     "movdqa %%xmm0, %%xmm1\n\tmovdqa %%xmm0, %%xmm2\n\tmovdqa %%xmm0, %%xmm3\n\t"
                     "movdqa %%xmm0, %%xmm4\n\tmovdqa %%xmm0, %%xmm5\n\tmovdqa %%xmm0, %%xmm6\n\t"
                     "movdqa %%xmm0, %%xmm7\n\tmovdqa %%xmm0, %%xmm8\n\tmovdqa %%xmm0, %%xmm9\n\t"
                     "movdqa %%xmm0, %%xmm10\n\tmovdqa %%xmm0, %%xmm11\n\tmovdqa %%xmm0, %%xmm12\n\t"
                     "movdqa %%xmm0, %%xmm13\n\tmovdqa %%xmm0, %%xmm14\n\tmovdqa %%xmm0, %%xmm15"
                     : : : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                       "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");

    kill(helper_pid, SIGCONT);
    if (strcmp(mode, "garbage") == 0) {
        memset(payload, 0xA5, 200);
        length = 200;
    } else if (strcmp(mode, "truncated") == 0) {
        length = 64;
    }
    ats_write_all(helper_socket, payload, length);
    close(helper_socket);
    if (strcmp(mode, "die-early") == 0) _exit(42);
    while (waitpid(helper_pid, &status, 0) < 0 && errno == EINTR) {
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* bad-stack mode: makes the pages from just above this frame up to `caller_frame` unreadable. */
static void protect_callers(void *caller_frame) {
    uintptr_t page = 4096;
    uintptr_t low = ((uintptr_t)__builtin_frame_address(0) + 2 * page) & ~(page - 1);
    uintptr_t high = ((uintptr_t)caller_frame + page) & ~(page - 1);
    if (high > low) mprotect((void *)low, high - low, PROT_NONE);
}

__attribute__((noinline)) void fixture_worker_level_1(int id, void *caller_frame) {
    char byte = (char)id;
    int fixture_worker_id = id;
    if (caller_frame != NULL) protect_callers(caller_frame);
    ats_write_all(worker_ready_pipe[1], &byte, 1);
    /* Nobody writes this pipe: the worker blocks here until the process dies. */
    while (read(worker_block_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    fixture_sink = fixture_worker_id;
}

__attribute__((noinline)) void fixture_worker_level_2(int id) {
    if (id == 0 && strcmp(mode, "bad-stack") == 0) {
        /* Put a few pages between this frame and level 1's, then hide this frame's pages. */
        volatile char gap[4 * 4096];
        gap[0] = 1;
        fixture_worker_level_1(id, (void *)&gap[sizeof gap - 1]);
        fixture_sink = gap[0];
    } else {
        fixture_worker_level_1(id, NULL);
    }
    fixture_sink = id;
}

__attribute__((noinline)) void *fixture_worker_main(void *argument) {
    fixture_worker_level_2((int)(intptr_t)argument);
    return NULL;
}

__attribute__((noinline)) void fixture_odd_wait(void) {
    char byte = 0;
    ats_write_all(worker_ready_pipe[1], &byte, 1);
    while (read(worker_block_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
}

__attribute__((noinline)) void *fixture_odd_main(void *argument) {
    (void)argument;
    fixture_odd_wait();
    fixture_sink = 1;
    return NULL;
}

__attribute__((noinline)) void fixture_crash_segv(void) {
    volatile int *fixture_null = NULL;
    int fixture_value = 42;
    *fixture_null = fixture_value;
}

__attribute__((noinline)) void fixture_crash_abort(void) {
    int fixture_value = 6;
    fixture_sink = fixture_value;
    abort();
}

__attribute__((noinline)) void fixture_crash_bus(void) {
    char path[] = "/tmp/ats-crasher-bus.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) abort();
    unlink(path);
    if (ftruncate(fd, 4096) != 0) abort();
    volatile char *fixture_mapping = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fixture_mapping == MAP_FAILED) abort();
    /* Shrink the file under the mapping: touching the page now raises SIGBUS (BUS_ADRERR). */
    if (ftruncate(fd, 0) != 0) abort();
    fixture_mapping[0] = 1;
}

__attribute__((noinline)) void fixture_crash_fpe(void) {
    volatile int fixture_numerator = 7;
    volatile int fixture_denominator = 0;
    fixture_sink = fixture_numerator / fixture_denominator;
}

__attribute__((noinline)) void fixture_crash_ill(void) {
    int fixture_value = 4;
    fixture_sink = fixture_value;
    __asm__ volatile("ud2");
}

__attribute__((noinline)) void fixture_crash_trap(void) {
    int fixture_value = 5;
    fixture_sink = fixture_value;
    __asm__ volatile("int3");
}

#pragma clang diagnostic ignored "-Winfinite-recursion"
__attribute__((noinline)) int fixture_recurse(int depth) {
    volatile char fixture_frame[256];
    fixture_frame[0] = (char)depth;
    return fixture_recurse(depth + 1) + fixture_frame[0];
}

__attribute__((noinline)) void fixture_crash_overflow(void) { fixture_sink = fixture_recurse(0); }

__attribute__((noinline)) void fixture_crash_readonly(void) {
    char *fixture_literal = (char *)"read-only";
    fixture_literal[0] = 'R';
}

__attribute__((noinline)) void fixture_crash_exec(void) {
    unsigned char fixture_code[16] = {0xc3};
    void (*fixture_jump)(void) = (void (*)(void))(void *)fixture_code;
    fixture_jump();
}

__attribute__((noinline)) void fixture_crash_unmapped(void) {
    volatile int *fixture_wild = (volatile int *)(uintptr_t)0x00000dead0000000ull;
    *fixture_wild = 1;
}

__attribute__((noinline)) void fixture_crash_assert(void) {
    int fixture_count = 3;
    assert(fixture_count == 4 && "the count of widgets");
}

/* hang mode's pipe, made before "ready" is written: a test that counts the descriptors after
 * "ready" must not see the count change under it. */
static int hang_pipe[2] = {-1, -1};

__attribute__((noinline)) void fixture_hang(void) {
    char byte;
    if (hang_pipe[0] < 0 && pipe(hang_pipe) != 0) abort();
    while (read(hang_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
}

__attribute__((noinline)) void fixture_crash_middle(void) {
    int fixture_depth = 2;
    const char *fixture_label = "middle";
    fixture_sink = fixture_depth + (int)strlen(fixture_label);
    if (strcmp(mode, "abort") == 0) fixture_crash_abort();
    else if (strcmp(mode, "bus") == 0) fixture_crash_bus();
    else if (strcmp(mode, "fpe") == 0) fixture_crash_fpe();
    else if (strcmp(mode, "ill") == 0) fixture_crash_ill();
    else if (strcmp(mode, "trap") == 0) fixture_crash_trap();
    else if (strcmp(mode, "hang") == 0) fixture_hang();
    else if (strcmp(mode, "overflow") == 0) fixture_crash_overflow();
    else if (strcmp(mode, "readonly") == 0) fixture_crash_readonly();
    else if (strcmp(mode, "exec") == 0) fixture_crash_exec();
    else if (strcmp(mode, "unmapped") == 0) fixture_crash_unmapped();
    else if (strcmp(mode, "assert") == 0) fixture_crash_assert();
    else if (strcmp(mode, "float") == 0) fixture_crash_float(2.5);
    else fixture_crash_segv();
    fixture_sink = fixture_depth;
}

__attribute__((noinline)) void fixture_crash_outer(void) {
    int fixture_depth = 1;
    fixture_crash_middle();
    fixture_sink = fixture_depth;
}

static void usage(void) {
    fprintf(stderr, "usage: ats-crasher --helper PATH [--payload 9|10.2|master] [--threads N] [--mode MODE] "
                    "[--odd NAME] [--ready-fd FD] [-- EXTRA HELPER ARGS...]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *helper = NULL;
    const char *odd_name = NULL;
    int threads = 3;
    int ready_fd = -1;
    char **extra = NULL;
    int extra_count = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            extra = argv + i + 1;
            extra_count = argc - i - 1;
            break;
        }
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--helper") == 0) helper = argv[++i];
        else if (strcmp(argv[i], "--payload") == 0) payload_version = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--mode") == 0) mode = argv[++i];
        else if (strcmp(argv[i], "--ready-fd") == 0) ready_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--odd") == 0) odd_name = argv[++i];
        else usage();
    }
    if (helper == NULL) usage();

    helper_pid = ats_start_helper("ats-crasher", helper, extra, extra_count, &helper_socket);

    if (strcmp(mode, "clean") == 0) {
        int status;
        close(helper_socket);
        kill(helper_pid, SIGCONT);
        while (waitpid(helper_pid, &status, 0) < 0 && errno == EINTR) {
        }
        return 0;
    }
    if (strcmp(mode, "parent-exit") == 0) return 0;

    /* The handler runs on an alternate stack, so a stack overflow can still be reported. */
    static char alternate_stack[64 * 1024];
    stack_t alternate = {.ss_sp = alternate_stack, .ss_size = sizeof alternate_stack, .ss_flags = 0};
    sigaltstack(&alternate, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = fixture_crash_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &action, NULL);

    if (pipe(worker_ready_pipe) != 0 || pipe(worker_block_pipe) != 0) {
        perror("pipe");
        return 2;
    }
    for (int i = 0; i < threads; i++) {
        pthread_t thread;
        char name[16];
        pthread_create(&thread, NULL, fixture_worker_main, (void *)(intptr_t)i);
        snprintf(name, sizeof name, "worker-%d", i);
        pthread_setname_np(thread, name);
    }
    if (odd_name != NULL) {
        pthread_t thread;
        pthread_create(&thread, NULL, fixture_odd_main, NULL);
        pthread_setname_np(thread, odd_name);
        threads++;
    }
    for (int i = 0; i < threads; i++) {
        char byte;
        while (read(worker_ready_pipe[0], &byte, 1) < 0 && errno == EINTR) {
        }
    }
    if (strcmp(mode, "hang") == 0 && pipe(hang_pipe) != 0) abort();
    if (ready_fd >= 0) {
        char line[64];
        int length = snprintf(line, sizeof line, "ready %d %d\n", (int)getpid(), (int)helper_pid);
        ats_write_all(ready_fd, line, (size_t)length);
    }
    fixture_crash_outer();
    return 0;
}
