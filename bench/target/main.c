/*
 * bench-target: the benchmark's target. N worker threads each recurse D frames deep, then either
 * block (crash runs) or spin (live runs); the main thread forks a crash helper exactly as Traffic
 * Server does and, in a crash run, faults and measures how long the helper keeps it down.
 *
 *   bench-target [--helper PATH] --threads N --depth D --mode crash|live [--payload 9|10.2|master]
 *                [--ready-fd FD] [-- EXTRA HELPER ARGS]
 *
 * It prints one line of key=value results on standard output:
 *   startup_us   fork of the helper until waitpid(WUNTRACED) saw it stopped (start-up to parked)
 *   parked_rss_kb  the helper's VmRSS while parked
 *   downtime_us  (crash) SIGCONT sent until the helper has exited: how long the server is down
 *   helper_maxrss_kb (crash) the helper's peak RSS (wait4 rusage)
 *   freeze_us    (live) the longest time any worker did not run while the helper was capturing
 *
 * Live mode: after start-up the workers tick at depth D, sleeping 1 ms per tick and recording the
 * longest gap between two ticks beyond that 1 ms (a stopped thread cannot tick); the main thread writes "ready <pid>" on --ready-fd and
 * waits for a line on stdin ("done" from the benchmark once the snapshot tool has finished),
 * then reports the longest gap seen during the capture window as freeze_us.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static pid_t helper_pid;
static int helper_socket;
static const char *payload_version = "9";
static int depth = 32;
static int live = 0;
static int ready_fd = -1;
static int ready_pipe[2], block_pipe[2];
static _Atomic int measuring = 0;
static _Atomic int64_t worst_gap_ns = 0;
static volatile int sink;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void write_all(int fd, const void *data, size_t size) {
    const char *bytes = data;
    while (size > 0) {
        ssize_t n = write(fd, bytes, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        bytes += n;
        size -= (size_t)n;
    }
}

static void crash_handler(int sig, siginfo_t *info, void *context) {
    static unsigned char payload[2048];
    size_t length = 0;
    int status;
    struct rusage usage;
    int v102 = strcmp(payload_version, "10.2") == 0, master = strcmp(payload_version, "master") == 0;
    if (master) { memcpy(payload, &sig, 4); length += 4; }
    if (v102 || master) { pid_t tid = (pid_t)syscall(SYS_gettid); memcpy(payload + length, &tid, 4); length += 4; }
    memcpy(payload + length, info, sizeof(siginfo_t)); length += sizeof(siginfo_t);
    memcpy(payload + length, context, sizeof(ucontext_t)); length += sizeof(ucontext_t);
    if (v102 || master) { uint32_t zero = 0; memcpy(payload + length, &zero, 4); length += 4; }

    int64_t start = now_ns();
    kill(helper_pid, SIGCONT);
    write_all(helper_socket, payload, length);
    close(helper_socket);
    while (wait4(helper_pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    int64_t end = now_ns();
    char line[160];
    int n = snprintf(line, sizeof line, "downtime_us=%lld helper_maxrss_kb=%ld helper_status=%d\n",
                     (long long)((end - start) / 1000), usage.ru_maxrss, status);
    write_all(1, line, (size_t)n);
    signal(sig, SIG_DFL);
    _exit(0);
}

__attribute__((noinline)) static void bench_leaf(void) {
    char byte = 0;
    write_all(ready_pipe[1], &byte, 1);
    if (!live) {
        while (read(block_pipe[0], &byte, 1) < 0 && errno == EINTR) {
        }
        return;
    }
    int64_t last = now_ns();
    const struct timespec tick = {0, 1000000};
    for (;;) {
        nanosleep(&tick, NULL);
        int64_t current = now_ns();
        int64_t gap = current - last - 1000000;
        last = current;
        if (atomic_load_explicit(&measuring, memory_order_relaxed)) {
            int64_t worst = atomic_load_explicit(&worst_gap_ns, memory_order_relaxed);
            while (gap > worst && !atomic_compare_exchange_weak(&worst_gap_ns, &worst, gap)) {
            }
        }
    }
}

__attribute__((noinline)) void bench_recurse(int level) {
    if (level <= 1) bench_leaf();
    else bench_recurse(level - 1);
    sink = level;
}

static void *worker(void *argument) {
    (void)argument;
    bench_recurse(depth);
    return NULL;
}

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    long value = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    while (fgets(line, sizeof line, file)) {
        if (strncmp(line, "VmRSS:", 6) == 0) value = strtol(line + 6, NULL, 10);
    }
    fclose(file);
    return value;
}

int main(int argc, char **argv) {
    const char *helper = NULL;
    int threads = 16;
    char **extra = NULL;
    int extra_count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { extra = argv + i + 1; extra_count = argc - i - 1; break; }
        if (i + 1 >= argc) return 2;
        if (strcmp(argv[i], "--helper") == 0) helper = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--depth") == 0) depth = atoi(argv[++i]);
        else if (strcmp(argv[i], "--payload") == 0) payload_version = argv[++i];
        else if (strcmp(argv[i], "--mode") == 0) live = strcmp(argv[++i], "live") == 0;
        else if (strcmp(argv[i], "--ready-fd") == 0) ready_fd = atoi(argv[++i]);
        else return 2;
    }

    if (helper != NULL) {
        int pair[2], status;
        socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
        int64_t start = now_ns();
        helper_pid = fork();
        if (helper_pid == 0) {
            char *args[64];
            int n = 0;
            dup2(pair[0], 0);
            for (int fd = 3; fd < 256; fd++) close(fd);
            args[n++] = (char *)(strrchr(helper, '/') ? strrchr(helper, '/') + 1 : helper);
            args[n++] = "--syslog"; args[n++] = "--wait"; args[n++] = "--host";
            args[n++] = "x86_64-pc-linux-gnu"; args[n++] = "--user"; args[n++] = "root";
            for (int i = 0; i < extra_count && n < 62; i++) args[n++] = extra[i];
            args[n] = NULL;
            execv(helper, args);
            _exit(127);
        }
        close(pair[0]);
        helper_socket = pair[1];
        prctl(PR_SET_PTRACER, helper_pid, 0, 0, 0);
        waitpid(helper_pid, &status, WUNTRACED);
        int64_t parked = now_ns();
        if (!WIFSTOPPED(status)) { fprintf(stderr, "helper did not park\n"); return 3; }
        printf("startup_us=%lld parked_rss_kb=%ld\n", (long long)((parked - start) / 1000), rss_kb(helper_pid));
        fflush(stdout);
    }

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = crash_handler;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &action, NULL);

    pipe(ready_pipe);
    pipe(block_pipe);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, 256 * 1024);
    for (int i = 0; i < threads; i++) {
        pthread_t thread;
        pthread_create(&thread, &attributes, worker, NULL);
    }
    for (int i = 0; i < threads; i++) {
        char byte;
        while (read(ready_pipe[0], &byte, 1) < 0 && errno == EINTR) {
        }
    }
    if (live) {
        char line[64];
        atomic_store(&measuring, 1);
        int n = snprintf(line, sizeof line, "ready %d\n", (int)getpid());
        if (ready_fd >= 0) write_all(ready_fd, line, (size_t)n);
        /* The benchmark writes a line on stdin once the capture tool has finished. */
        if (fgets(line, sizeof line, stdin) == NULL) return 1;
        atomic_store(&measuring, 0);
        printf("freeze_us=%lld\n", (long long)(atomic_load(&worst_gap_ns) / 1000));
        fflush(stdout);
        if (helper != NULL) { kill(helper_pid, SIGKILL); waitpid(helper_pid, NULL, 0); }
        _exit(0);
    }
    if (helper == NULL) return 0;
    *(volatile int *)0 = 1;
    return 0;
}
