/*
 * ats-handshake: Traffic Server's side of the crash-helper handshake, for the C fixtures that play
 * a server (ats-crasher, fault-server): starting the helper as traffic_server's crash_logger_init
 * does, and laying out the payload its crash_logger_invoke writes.
 */
#ifndef ATS_HANDSHAKE_H
#define ATS_HANDSHAKE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ucontext.h>

/*
 * socketpair(AF_UNIX, SOCK_STREAM); fork; the child puts one end on stdin, closes every other
 * descriptor but 0, 1 and 2, and execs `helper` as
 * `<basename> --syslog --wait --host x86_64-pc-linux-gnu --user root EXTRA...`. The parent calls
 * prctl(PR_SET_PTRACER, child) (ATS 10.2+; EINVAL without Yama is harmless), then
 * waitpid(child, WUNTRACED), and requires the helper to have stopped itself. Returns the helper's
 * pid and puts the parent's end of the socket in *socket_out; on failure prints a line naming
 * `program` and exits 2 (no socket or fork) or 3 (the helper did not park).
 */
pid_t ats_start_helper(const char *program, const char *helper, char **extra, int extra_count, int *socket_out);

/* The fields of a payload (x86_64 glibc: siginfo_t 128 bytes, ucontext_t 968 bytes). */
struct ats_payload {
    int signo;                /* master only */
    pid_t tid;                /* 10.2 and master */
    siginfo_t info;
    ucontext_t context;
    uint32_t text_length;     /* the length word as sent (10.2 and master) */
    const char *text;         /* the backtrace text's bytes */
    size_t text_bytes;        /* how many of them are sent, whatever text_length says */
};

/*
 * Lays out `payload` as ATS `version` sends it ("9", "10.2" or "master"; anything else is 9):
 *   9       siginfo_t, ucontext_t                                             1096 bytes
 *   10.2    pid_t tid, siginfo_t, ucontext_t, uint32_t n, n bytes of text     1104 + n
 *   master  int signo, then the 10.2 payload                                  1108 + n
 * into `buffer`; returns the length, or 0 if `capacity` is too small.
 */
size_t ats_build_payload(unsigned char *buffer, size_t capacity, const char *version, const struct ats_payload *payload);

/* write(2) until done, retrying EINTR; gives up silently on another error (a helper gone). */
void ats_write_all(int fd, const void *data, size_t size);

#endif
