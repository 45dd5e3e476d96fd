/*
 * fault-server: a hostile (or unlucky) server for the fault suite. It forks its crash helper
 * exactly as ats-crasher (and Traffic Server) does, then crashes with a real SIGSEGV, but what it
 * sends the helper and what its threads are doing are chosen by the test.
 *
 * Usage:
 *   fault-server --helper PATH [--payload 9|10.2|master] [--payload-file FILE] [--set FIELD=VALUE]...
 *                [--keep-open] [--threads N] [--stack-kib K] [--d-state] [--jit] [--wait-usr1]
 *                [--stray-cont] [--main-exits] [--dlopen LIB [--damage-eh-frame-hdr BYTE]]
 *                [--ready-fd FD] [-- EXTRA HELPER ARGS...]
 *
 * Payload (sent by the SIGSEGV handler after its SIGCONT to the helper):
 *   --payload V        the real payload of that ATS version (default master)
 *   --payload-file F   these bytes verbatim instead (any length, any content)
 *   --set FIELD=VALUE  patch the real payload first; VALUE is decimal or 0x-hex. FIELD: fpregs
 *                      (uc_mcontext.fpregs), rip, rsp, rbp (the ucontext's gregs), tid, signo
 *                      (siginfo's si_signo), length (the backtrace length word)
 *   --keep-open        do not close the socket after writing: wait for the helper with it open
 *
 * Threads: the main thread (comm "fault-server") crashes as
 *   main -> fault_crash_outer -> fault_crash_segv
 * --threads N (default 2) workers "worker-0".. block as
 *   read -> fault_worker_level_1 -> fault_worker_main -> start_thread
 *   with --stack-kib K, each first puts K KiB of live stack below fault_worker_main (fault_deep_stack).
 * --d-state  one more thread "vforker" blocks in vfork() until the process dies: its child (which
 *            shares its memory) waits on a pipe, so the parent thread sleeps uninterruptibly
 *            (TASK_KILLABLE, state D) and no ptrace interrupt can stop it.
 * --jit      one more thread "jit" calls into an anonymous executable mapping (code written at run
 *            time, frame pointer cleared, no unwind information) that calls fault_jit_block:
 *              read -> fault_jit_block -> [anonymous code] -> fault_jit_main -> start_thread
 *
 * --dlopen LIB  one more thread "library" dlopens LIB (the fault-library fixture) and blocks as
 *              read -> damaged_inner -> damaged_block -> fault_library_main -> start_thread
 * --damage-eh-frame-hdr BYTE  then writes BYTE over the table encoding of LIB's .eh_frame_hdr in
 *            the file on disk (found with dl_iterate_phdr: the PT_GNU_EH_FRAME segment), which is
 *            where an unwinder reads it from: a damaged library mapped in the server.
 * --main-exits  the main thread ends with pthread_exit() once ready (a zombie leader, as in servers
 *            that park their main thread that way); the workers go on, nothing crashes: for live
 *            snapshots. The helper leaves when the process is killed.
 *
 * Timing (no sleeping): --stray-cont sends the helper a SIGCONT of job control (not a crash) once
 * it has parked; --wait-usr1 waits for SIGUSR1 before crashing. --ready-fd FD: once the helper has
 * parked, the stray SIGCONT (if any) is sent and every thread is in place, the line
 * "ready <pid> <helper-pid>\n" is written to FD.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
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

#include "ats_handshake.h"

_Static_assert(sizeof(siginfo_t) == 128, "siginfo_t is not the 128 bytes ATS sends");
_Static_assert(sizeof(ucontext_t) == 968, "ucontext_t is not the 968 bytes ATS sends");

static pid_t helper_pid = -1;
static int helper_socket = -1;
static const char *payload_version = "master";
static const char *payload_file = NULL;
static int keep_open = 0;
static int ready_pipe[2];
static int block_pipe[2];
static volatile int fault_sink;

enum { MAX_SETS = 16 };
static struct { char field[16]; uint64_t value; } sets[MAX_SETS];
static int set_count = 0;

static unsigned char file_payload[4 << 20];
static size_t file_payload_length = 0;

static void load_payload_file(void) {
    int fd = open(payload_file, O_RDONLY);
    if (fd < 0) {
        perror(payload_file);
        exit(2);
    }
    ssize_t got;
    while ((got = read(fd, file_payload + file_payload_length, sizeof file_payload - file_payload_length)) > 0)
        file_payload_length += (size_t)got;
    close(fd);
}

/* The real payload for this fault, patched by --set; returns its length. */
static size_t build_payload(unsigned char *buffer, size_t capacity, int sig, siginfo_t *info, ucontext_t *context) {
    static const char text[] = "fault_crash_segv\nfault_crash_outer\nmain\n";
    static struct ats_payload fields;
    fields.signo = sig;
    fields.tid = (pid_t)syscall(SYS_gettid);
    fields.info = *info;
    fields.context = *context;
    fields.text_length = (uint32_t)(sizeof text - 1);
    fields.text = text;
    fields.text_bytes = sizeof text - 1;
    for (int i = 0; i < set_count; i++) {
        uint64_t value = sets[i].value;
        if (strcmp(sets[i].field, "fpregs") == 0) fields.context.uc_mcontext.fpregs = (fpregset_t)(uintptr_t)value;
        else if (strcmp(sets[i].field, "rip") == 0) fields.context.uc_mcontext.gregs[REG_RIP] = (greg_t)value;
        else if (strcmp(sets[i].field, "rsp") == 0) fields.context.uc_mcontext.gregs[REG_RSP] = (greg_t)value;
        else if (strcmp(sets[i].field, "rbp") == 0) fields.context.uc_mcontext.gregs[REG_RBP] = (greg_t)value;
        else if (strcmp(sets[i].field, "tid") == 0) fields.tid = (pid_t)value;
        else if (strcmp(sets[i].field, "signo") == 0) fields.info.si_signo = (int)value;
        else if (strcmp(sets[i].field, "length") == 0) fields.text_length = (uint32_t)value;
    }
    return ats_build_payload(buffer, capacity, payload_version, &fields);
}

static void fault_crash_handler(int sig, siginfo_t *info, void *context) {
    static unsigned char payload[4096];
    size_t length = payload_file ? 0 : build_payload(payload, sizeof payload, sig, info, context);
    int status;
    kill(helper_pid, SIGCONT);
    if (payload_file) ats_write_all(helper_socket, file_payload, file_payload_length);
    else ats_write_all(helper_socket, payload, length);
    if (!keep_open) close(helper_socket);
    while (waitpid(helper_pid, &status, 0) < 0 && errno == EINTR) {
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

__attribute__((noinline)) void fault_worker_level_1(int id) {
    char byte = (char)id;
    ats_write_all(ready_pipe[1], &byte, 1);
    while (read(block_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    fault_sink = id;
}

/* Puts `kib` KiB of touched stack between the worker's entry and its blocking frame. */
__attribute__((noinline)) void fault_deep_stack(int id, int kib) {
    volatile char fault_pad[1024];
    fault_pad[0] = (char)id;
    if (kib > 1) fault_deep_stack(id, kib - 1);
    else fault_worker_level_1(id);
    fault_sink = fault_pad[0];
}

static int stack_kib = 0;

__attribute__((noinline)) void *fault_worker_main(void *argument) {
    int id = (int)(intptr_t)argument;
    if (stack_kib > 0) fault_deep_stack(id, stack_kib);
    else fault_worker_level_1(id);
    return NULL;
}

/* vfork() keeps this thread in an uninterruptible sleep until the child exits or execs. */
__attribute__((noinline)) void *fault_vfork_main(void *argument) {
    (void)argument;
    int child_pipe[2];
    if (pipe(child_pipe) != 0) abort();
    char byte = 'v';
    ats_write_all(ready_pipe[1], &byte, 1);
    pid_t child = vfork();
    if (child == 0) {
        /* Only system calls here: the memory is the parent's. Die with the parent thread. */
        syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        char dummy;
        syscall(SYS_read, child_pipe[0], &dummy, 1);
        syscall(SYS_exit, 0);
    }
    return NULL;
}

__attribute__((noinline)) void fault_jit_block(void) {
    char byte = 'j';
    ats_write_all(ready_pipe[1], &byte, 1);
    while (read(block_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
}

__attribute__((noinline)) void *fault_jit_main(void *argument) {
    (void)argument;
    /* push rbp; xor ebp,ebp; movabs rax, fault_jit_block; call rax; pop rbp; ret */
    unsigned char code[] = {0x55, 0x31, 0xed, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd0, 0x5d, 0xc3};
    uint64_t target = (uint64_t)(uintptr_t)fault_jit_block;
    memcpy(code + 5, &target, sizeof target);
    void *mapping = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) abort();
    memcpy(mapping, code, sizeof code);
    if (mprotect(mapping, 4096, PROT_READ | PROT_EXEC) != 0) abort();
    ((void (*)(void))mapping)();
    fault_sink = 1;
    return NULL;
}

static const char *library_path = NULL;
static int damage_byte = -1;

/* dl_iterate_phdr callback: the file offset of `library_path`'s PT_GNU_EH_FRAME segment. */
static int find_eh_frame_hdr(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name == NULL || strcmp(info->dlpi_name, library_path) != 0) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME) {
            *(off_t *)data = (off_t)info->dlpi_phdr[i].p_offset;
            return 1;
        }
    }
    return 0;
}

static void damage_library(void) {
    off_t offset = -1;
    dl_iterate_phdr(find_eh_frame_hdr, &offset);
    int fd = open(library_path, O_WRONLY);
    unsigned char byte = (unsigned char)damage_byte;
    /* struct eh_frame_hdr: version, eh_frame_ptr_enc, fde_count_enc, table_enc. */
    if (offset < 0 || fd < 0 || pwrite(fd, &byte, 1, offset + 3) != 1) {
        fprintf(stderr, "fault-server: cannot damage %s\n", library_path);
        exit(2);
    }
    close(fd);
}

__attribute__((noinline)) void *fault_library_main(void *argument) {
    (void)argument;
    void *library = dlopen(library_path, RTLD_NOW);
    void (*block)(int) = library ? (void (*)(int))dlsym(library, "damaged_block") : NULL;
    char byte = 'l';
    if (block != NULL && damage_byte >= 0) damage_library();
    ats_write_all(ready_pipe[1], &byte, 1);
    if (block == NULL) {
        fprintf(stderr, "fault-server: %s\n", dlerror());
        return NULL;
    }
    block(block_pipe[0]);
    return NULL;
}

__attribute__((noinline)) void fault_crash_segv(void) {
    volatile int *fault_null = NULL;
    *fault_null = 13;
}

__attribute__((noinline)) void fault_crash_outer(void) {
    fault_crash_segv();
    fault_sink = 2;
}

static void usage(void) {
    fprintf(stderr, "usage: fault-server --helper PATH [options] [-- EXTRA HELPER ARGS...] (see main.c)\n");
    exit(2);
}

static void start_thread(void *(*body)(void *), void *argument, const char *name) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, (size_t)(stack_kib + 256) * 1024);
    if (pthread_create(&thread, &attributes, body, argument) != 0) {
        perror("pthread_create");
        exit(2);
    }
    pthread_attr_destroy(&attributes);
    pthread_setname_np(thread, name);
}

int main(int argc, char **argv) {
    const char *helper = NULL;
    int threads = 2, d_state = 0, jit = 0, wait_usr1 = 0, stray_cont = 0, main_exits = 0, ready_fd = -1;
    char **extra = NULL;
    int extra_count = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            extra = argv + i + 1;
            extra_count = argc - i - 1;
            break;
        }
        if (strcmp(argv[i], "--keep-open") == 0) keep_open = 1;
        else if (strcmp(argv[i], "--d-state") == 0) d_state = 1;
        else if (strcmp(argv[i], "--jit") == 0) jit = 1;
        else if (strcmp(argv[i], "--wait-usr1") == 0) wait_usr1 = 1;
        else if (strcmp(argv[i], "--stray-cont") == 0) stray_cont = 1;
        else if (strcmp(argv[i], "--main-exits") == 0) main_exits = 1;
        else if (i + 1 >= argc) usage();
        else if (strcmp(argv[i], "--helper") == 0) helper = argv[++i];
        else if (strcmp(argv[i], "--payload") == 0) payload_version = argv[++i];
        else if (strcmp(argv[i], "--payload-file") == 0) payload_file = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--stack-kib") == 0) stack_kib = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ready-fd") == 0) ready_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dlopen") == 0) library_path = argv[++i];
        else if (strcmp(argv[i], "--damage-eh-frame-hdr") == 0) damage_byte = (int)strtol(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--set") == 0) {
            const char *assignment = argv[++i];
            const char *equals = strchr(assignment, '=');
            size_t name_length = equals ? (size_t)(equals - assignment) : 0;
            if (!equals || name_length == 0 || name_length >= sizeof sets[0].field || set_count == MAX_SETS) usage();
            memcpy(sets[set_count].field, assignment, name_length);
            sets[set_count].field[name_length] = 0;
            sets[set_count].value = strtoull(equals + 1, NULL, 0);
            set_count++;
        } else usage();
    }
    if (helper == NULL) usage();
    if (payload_file) load_payload_file();

    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* every thread inherits it; sigwait below takes it */
    signal(SIGPIPE, SIG_IGN);

    helper_pid = ats_start_helper("fault-server", helper, extra, extra_count, &helper_socket);
    if (stray_cont) kill(helper_pid, SIGCONT);

    static char alternate_stack[64 * 1024];
    stack_t alternate = {.ss_sp = alternate_stack, .ss_size = sizeof alternate_stack, .ss_flags = 0};
    sigaltstack(&alternate, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = fault_crash_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, NULL);

    if (pipe(ready_pipe) != 0 || pipe(block_pipe) != 0) {
        perror("pipe");
        return 2;
    }
    int expected = threads + d_state + jit + (library_path != NULL);
    for (int i = 0; i < threads; i++) {
        char name[16];
        snprintf(name, sizeof name, "worker-%d", i);
        start_thread(fault_worker_main, (void *)(intptr_t)i, name);
    }
    if (d_state) start_thread(fault_vfork_main, NULL, "vforker");
    if (jit) start_thread(fault_jit_main, NULL, "jit");
    if (library_path) start_thread(fault_library_main, NULL, "library");
    for (int i = 0; i < expected; i++) {
        char byte;
        while (read(ready_pipe[0], &byte, 1) < 0 && errno == EINTR) {
        }
    }
    if (ready_fd >= 0) {
        char line[64];
        int length = snprintf(line, sizeof line, "ready %d %d\n", (int)getpid(), (int)helper_pid);
        ats_write_all(ready_fd, line, (size_t)length);
    }
    if (main_exits) pthread_exit(NULL);
    if (wait_usr1) {
        int taken;
        sigwait(&usr1, &taken);
    }
    fault_crash_outer();
    return 0;
}
