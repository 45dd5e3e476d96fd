/*
 * core-crasher: a program that dies of SIGSEGV with known stacks, for the core-file tests
 * (`invoker core`). No crash handler of any kind: the kernel writes the core.
 *
 * Usage: core-crasher [--witness] [--touch MEGABYTES]
 *
 * Starts two threads, named "core-worker-1" and "core-worker-2", each blocked in
 *     core_worker_main -> core_worker_wait -> read (a pipe nobody writes);
 * once both are in place (a barrier), the main thread writes through NULL in
 *     main -> core_crash_outer -> core_crash_middle -> core_crash_segv
 * (si_code SEGV_MAPERR, si_addr 0).
 *
 * --witness: first starts a process that shares this one's memory (clone(CLONE_VM) without
 * CLONE_THREAD: the kernel's core dump kills only the thread group, so it survives the crash) and
 * prints its pid on standard output. It blocks in read() until killed. After the crash its
 * /proc/PID/maps and memory are the crashed process's as they were during the dump: what a
 * kernel.core_pattern pipe helper sees of %P while the kernel waits on it.
 * --touch MEGABYTES: maps and writes that much anonymous memory first (a core that large).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int never_written[2];
static pthread_barrier_t started;

__attribute__((noinline)) static void core_worker_wait(void) {
    char byte;
    pthread_barrier_wait(&started);
    (void)read(never_written[0], &byte, 1);
}

static void *core_worker_main(void *name) {
    pthread_setname_np(pthread_self(), name);
    core_worker_wait();
    return NULL;
}

__attribute__((noinline)) void core_crash_segv(void) {
    volatile int *nothing = NULL;
    *nothing = 42;
}

__attribute__((noinline)) void core_crash_middle(void) { core_crash_segv(); }
__attribute__((noinline)) void core_crash_outer(void) { core_crash_middle(); }

static int core_witness_main(void *unused) {
    (void)unused;
    char byte;
    for (;;) (void)read(never_written[0], &byte, 1);
    return 0;
}

int main(int argc, char **argv) {
    if (pipe(never_written) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--touch") == 0 && i + 1 < argc) {
            size_t bytes = (size_t)atol(argv[++i]) << 20;
            if (bytes == 0) continue;
            char *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (memory == MAP_FAILED) return 2;
            for (size_t offset = 0; offset < bytes; offset += 4096) memory[offset] = (char)(offset >> 12);
        } else if (strcmp(argv[i], "--witness") == 0) {
            size_t size = 256 << 10;
            char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (stack == MAP_FAILED) return 2;
            pid_t witness = clone(core_witness_main, stack + size, CLONE_VM | SIGCHLD, NULL);
            if (witness < 0) return 2;
            printf("%d\n", witness);
            fflush(stdout);
        }
    }
    pthread_barrier_init(&started, NULL, 3);
    pthread_t threads[2];
    static char *names[] = {"core-worker-1", "core-worker-2"};
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&threads[i], NULL, core_worker_main, names[i]) != 0) return 2;
    }
    pthread_barrier_wait(&started);
    core_crash_outer();
    return 0;
}
