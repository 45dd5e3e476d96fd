/*
 * internal.h: state shared by libinvoker-client's parts (hidden from the programs it serves).
 *
 *   arm.c         the constructor: start the helper (a "clone child", see there), wait for it to
 *                 park, install the fault handlers; fork and exit hooks
 *   fault.c       the fault handler: report through the helper, chain, re-raise
 *   interpose.c   sigaction/signal (the program keeps seeing and choosing its own handlers) and
 *                 pthread_create (every thread gets an alternate signal stack)
 *   snapshot.c    invoker_snapshot and the optional snapshot signal
 *   payload.c     the request bytes (ATS master layout) and async-signal-safe writes
 */
#ifndef INVOKER_CLIENT_INTERNAL_H
#define INVOKER_CLIENT_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IVC_HIDDEN __attribute__((visibility("hidden")))
#define IVC_EXPORT __attribute__((visibility("default")))

/* siginfo_t and ucontext_t as ATS sends them (x86_64 glibc). */
#define IVC_REQUEST_FIXED (4 + 4 + 128 + 968 + 4)
#define IVC_REASON_MAX 1023

/* The helper (H), the relay that forked it (R, see arm.c), our end of H's socket, and our end of
 * R's event channel ('p' each time H has parked; EOF once H is gone). owner is the pid that
 * started them (a forked child is not the owner and never uses them). */
struct ivc_helper {
    pid_t pid;
    pid_t relay;
    int socket;
    int events;
    pid_t owner;
    /* The sockets' inodes: a program that closes every descriptor it did not open (a daemon)
     * may have closed ours or reused their numbers; we then never write to them. */
    ino_t socket_inode;
    ino_t events_inode;
};

/* One fatal signal: the disposition the program believes it has (the one in place when we
 * armed, or the last one it set through sigaction/signal since), and whether ours is installed. */
struct ivc_slot {
    struct sigaction program;
    int set_after_us;
    int ours;
};

extern IVC_HIDDEN struct ivc_helper ivc_helper;
extern IVC_HIDDEN struct ivc_slot ivc_slots[NSIG];
/* Non-zero while a crash report or a snapshot uses the helper: the tid doing it. */
extern IVC_HIDDEN pid_t ivc_busy;
extern IVC_HIDDEN const int ivc_fatal_signals[6];

typedef int (*ivc_sigaction_fn)(int, const struct sigaction *, struct sigaction *);

IVC_HIDDEN int ivc_is_fatal(int sig);
IVC_HIDDEN ivc_sigaction_fn ivc_real_sigaction(void);
IVC_HIDDEN void ivc_on_fault(int sig, siginfo_t *info, void *context);
IVC_HIDDEN void ivc_install_alternate_stack(int keep_forever);
IVC_HIDDEN void ivc_install_snapshot_signal(void);
IVC_HIDDEN pid_t ivc_gettid(void);

/* The request bytes for `signo` (0: a snapshot) into `buffer` (IVC_REQUEST_FIXED +
 * IVC_REASON_MAX bytes); returns the length. */
IVC_HIDDEN size_t ivc_build_request(unsigned char *buffer, int signo, const siginfo_t *info, const void *context,
                                    const char *reason);
IVC_HIDDEN int ivc_write_all(int fd, const void *data, size_t size);
/* Waits for the relay's next event: 1 when the helper has parked (again), 0 when it is gone
 * (then the relay is reaped and the helper forgotten). Retried on EINTR. */
IVC_HIDDEN int ivc_await_helper(void);
/* Whether our two descriptors are still the sockets we made (async-signal-safe). When they are
 * not, the helper is forgotten (its relay dies with us, and it with its relay). */
IVC_HIDDEN int ivc_descriptors_intact(void);
/* Records the sockets' inodes once they are made. */
IVC_HIDDEN void ivc_remember_descriptors(void);
/* Discards stale events (a stray SIGCONT made the helper park again unasked). */
IVC_HIDDEN void ivc_drain_events(void);
/* Writes a diagnostic line "libinvoker-client: TEXT\n" to standard error (async-signal-safe). */
IVC_HIDDEN void ivc_say(const char *text, const char *detail);

#endif
