/*
 * client-fixture: a program that knows nothing of invoker, run with libinvoker-client preloaded
 * (LD_PRELOAD), to check the library keeps its promises. Every mode prints one line per step to
 * standard output, so a test can tell how far it got.
 *
 * Usage: client-fixture MODE [LIBRARY]
 *
 *   thread-overflow  a thread named "overflower" recurses without end:
 *                    fixture_client_recurse (many) <- fixture_client_overflow <- fixture_client_thread_main
 *                    (the fault is taken on the library's alternate stack of that thread)
 *   thread-assert    a thread named "asserter" fails assert() in fixture_client_assert <-
 *                    fixture_client_thread_main (SIGABRT)
 *   handler-before   installs its own SIGSEGV handler, THEN dlopen()s LIBRARY (which arms), then
 *                    writes through NULL in fixture_client_segv; its handler prints
 *                    "own handler ran", resets SIGSEGV to the default and returns
 *   handler-after    (preloaded) installs its own SIGSEGV handler after the library, like a JVM:
 *                    a fault on its "safepoint page" is handled (the page is made readable,
 *                    "safepoint handled"), any other fault resets SIGSEGV to the default and
 *                    returns ("own handler saw a real fault"); then writes through NULL in
 *                    fixture_client_segv
 *   wait-all         forks two children that exit, reaps with wait() until ECHILD
 *                    ("all children reaped"), then writes through NULL
 *   fork-crash       forks a child that writes through NULL (no report: it is not armed),
 *                    prints "child died of signal 11", then the parent writes through NULL
 *   snapshot         a thread named "sleeper" blocks in fixture_client_sleep; once it is there (a
 *                    pipe handshake), the main thread
 *                    calls invoker_snapshot("watchdog: queue stalled") in fixture_client_watchdog
 *                    ("snapshot returned 0"), then raises SIGUSR2 ("after SIGUSR2"), then exits 0
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int fixture_sink;
static const char *mode = "";
static char *safepoint_page;
static int block_pipe[2];
static int ready_pipe[2];

static void say(const char *line) {
    printf("%s\n", line);
    fflush(stdout);
}

__attribute__((noinline)) void fixture_client_segv(void) {
    volatile int *fixture_null = NULL;
    *fixture_null = 7;
}

#pragma clang diagnostic ignored "-Winfinite-recursion"
__attribute__((noinline)) int fixture_client_recurse(int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    return fixture_client_recurse(depth + 1) + frame[0];
}

__attribute__((noinline)) void fixture_client_overflow(void) { fixture_sink = fixture_client_recurse(0); }

__attribute__((noinline)) void fixture_client_assert(void) {
    int fixture_items = 2;
    assert(fixture_items == 3 && "the queue holds three items");
}

__attribute__((noinline)) void fixture_client_sleep(void) {
    char byte = 's';
    write(ready_pipe[1], &byte, 1);
    while (read(block_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
}

__attribute__((noinline)) void *fixture_client_thread_main(void *argument) {
    (void)argument;
    if (strcmp(mode, "thread-overflow") == 0) fixture_client_overflow();
    else if (strcmp(mode, "thread-assert") == 0) fixture_client_assert();
    else fixture_client_sleep();
    return NULL;
}

static pthread_t start_thread(const char *name) {
    pthread_t thread;
    pthread_create(&thread, NULL, fixture_client_thread_main, NULL);
    pthread_setname_np(thread, name);
    return thread;
}

static void own_handler_before(int sig) {
    (void)sig;
    static const char line[] = "own handler ran\n";
    write(STDOUT_FILENO, line, sizeof line - 1);
    signal(SIGSEGV, SIG_DFL);
}

static void own_handler_after(int sig, siginfo_t *info, void *context) {
    (void)context;
    char *address = info->si_addr;
    if (address >= safepoint_page && address < safepoint_page + 4096) {
        mprotect(safepoint_page, 4096, PROT_READ);
        return;
    }
    static const char line[] = "own handler saw a real fault\n";
    write(STDOUT_FILENO, line, sizeof line - 1);
    signal(sig, SIG_DFL);
}

__attribute__((noinline)) void fixture_client_watchdog(void) {
    int (*snapshot)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "invoker_snapshot");
    if (snapshot == NULL) {
        say("invoker_snapshot is not loaded");
        exit(2);
    }
    int result = snapshot("watchdog: queue stalled");
    printf("snapshot returned %d\n", result);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: client-fixture MODE [LIBRARY]\n");
        return 2;
    }
    mode = argv[1];
    if (pipe(block_pipe) != 0 || pipe(ready_pipe) != 0) return 2;
    if (strcmp(mode, "thread-overflow") == 0 || strcmp(mode, "thread-assert") == 0) {
        pthread_t thread = start_thread(strcmp(mode, "thread-overflow") == 0 ? "overflower" : "asserter");
        pthread_join(thread, NULL);
    } else if (strcmp(mode, "handler-before") == 0) {
        signal(SIGSEGV, own_handler_before);
        if (argc < 3 || dlopen(argv[2], RTLD_NOW) == NULL) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 2;
        }
        say("library loaded");
        fixture_client_segv();
    } else if (strcmp(mode, "handler-after") == 0) {
        struct sigaction action, readback;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = own_handler_after;
        action.sa_flags = SA_SIGINFO;
        sigemptyset(&action.sa_mask);
        sigaction(SIGSEGV, &action, NULL);
        sigaction(SIGSEGV, NULL, &readback);
        if (readback.sa_sigaction == own_handler_after) say("sigaction reads back the program's handler");
        safepoint_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        fixture_sink = safepoint_page[0];
        say("safepoint handled");
        fixture_client_segv();
    } else if (strcmp(mode, "wait-all") == 0) {
        for (int i = 0; i < 2; i++) {
            if (fork() == 0) _exit(0);
        }
        int reaped = 0;
        while (wait(NULL) > 0) reaped++;
        if (errno == ECHILD && reaped == 2) say("all children reaped");
        fixture_client_segv();
    } else if (strcmp(mode, "fork-crash") == 0) {
        pid_t child = fork();
        if (child == 0) fixture_client_segv();
        int status;
        waitpid(child, &status, 0);
        if (WIFSIGNALED(status)) printf("child died of signal %d\n", WTERMSIG(status));
        fflush(stdout);
        fixture_client_segv();
    } else if (strcmp(mode, "snapshot") == 0) {
        char byte;
        start_thread("sleeper");
        while (read(ready_pipe[0], &byte, 1) < 0 && errno == EINTR) {
        }
        fixture_client_watchdog();
        raise(SIGUSR2);
        say("after SIGUSR2");
        return 0;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 1;
}
