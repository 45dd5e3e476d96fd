/*
 * core-crasher: a program that dies of SIGSEGV with known stacks, for the core-file tests
 * (`invoker core`). No crash handler of any kind: the kernel writes the core.
 *
 * Usage: core-crasher
 *
 * Starts two threads, named "core-worker-1" and "core-worker-2", each blocked in
 *     core_worker_main -> core_worker_wait -> read (a pipe nobody writes);
 * once both are in place (a barrier), the main thread writes through NULL in
 *     main -> core_crash_outer -> core_crash_middle -> core_crash_segv
 * (si_code SEGV_MAPERR, si_addr 0).
 */
#include <pthread.h>
#include <stdio.h>
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

int main(void) {
    if (pipe(never_written) != 0) return 2;
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
