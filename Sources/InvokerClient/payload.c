/*
 * payload.c: the bytes libinvoker-client writes to its helper, and the async-signal-safe I/O
 * around them.
 *
 * A request has Traffic Server master's crash payload layout (x86_64 glibc):
 *   int signo, pid_t tid, siginfo_t (128 bytes), ucontext_t (968 bytes), uint32_t n, n bytes.
 * A crash sends its signal, siginfo and context, and n = 0 (the helper unwinds for itself).
 * A snapshot sends signo 0, a zeroed siginfo and context, and the reason as the n bytes; the
 * program does not close the socket after it, so the helper reads exactly the framed length.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

_Static_assert(sizeof(siginfo_t) == 128, "siginfo_t is not the 128 bytes of the ATS payload");
_Static_assert(sizeof(ucontext_t) == 968, "ucontext_t is not the 968 bytes of the ATS payload");

pid_t ivc_gettid(void) { return (pid_t)syscall(SYS_gettid); }

size_t ivc_build_request(unsigned char *buffer, int signo, const siginfo_t *info, const void *context,
                         const char *reason) {
    pid_t tid = ivc_gettid();
    uint32_t reason_length = 0;
    size_t length = 0;
    memcpy(buffer, &signo, sizeof signo);
    length += sizeof signo;
    memcpy(buffer + length, &tid, sizeof tid);
    length += sizeof tid;
    if (info != NULL) memcpy(buffer + length, info, sizeof(siginfo_t));
    else memset(buffer + length, 0, sizeof(siginfo_t));
    length += sizeof(siginfo_t);
    if (context != NULL) memcpy(buffer + length, context, sizeof(ucontext_t));
    else memset(buffer + length, 0, sizeof(ucontext_t));
    length += sizeof(ucontext_t);
    if (reason != NULL) {
        while (reason_length < IVC_REASON_MAX && reason[reason_length] != '\0') reason_length++;
    }
    memcpy(buffer + length, &reason_length, sizeof reason_length);
    length += sizeof reason_length;
    if (reason_length > 0) memcpy(buffer + length, reason, reason_length);
    return length + reason_length;
}

int ivc_write_all(int fd, const void *data, size_t size) {
    const char *bytes = data;
    while (size > 0) {
        ssize_t written = write(fd, bytes, size);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        bytes += written;
        size -= (size_t)written;
    }
    return 0;
}

int ivc_await_helper(void) {
    char event = 0;
    ssize_t got;
    int saved = errno;
    do {
        got = read(ivc_helper.events, &event, 1);
    } while (got < 0 && errno == EINTR);
    if (got == 1 && event == 'p') {
        errno = saved;
        return 1;
    }
    /* EOF: the helper has exited and the relay with it (it exits right after). A read error
     * (our descriptor was closed under us) says nothing of the relay: do not wait for it. */
    int status;
    int options = got == 0 ? __WALL : (__WALL | WNOHANG);
    while (waitpid(ivc_helper.relay, &status, options) < 0 && errno == EINTR) {
    }
    close(ivc_helper.events);
    if (ivc_helper.socket >= 0) close(ivc_helper.socket);
    ivc_helper.events = -1;
    ivc_helper.socket = -1;
    ivc_helper.pid = -1;
    ivc_helper.relay = -1;
    errno = saved;
    return 0;
}

static ino_t inode_of(int fd) {
    struct stat info;
    return fd >= 0 && fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode) ? info.st_ino : 0;
}

void ivc_remember_descriptors(void) {
    ivc_helper.socket_inode = inode_of(ivc_helper.socket);
    ivc_helper.events_inode = inode_of(ivc_helper.events);
}

int ivc_descriptors_intact(void) {
    if (ivc_helper.socket_inode != 0 && inode_of(ivc_helper.socket) == ivc_helper.socket_inode &&
        inode_of(ivc_helper.events) == ivc_helper.events_inode) {
        return 1;
    }
    ivc_helper.socket = -1;
    ivc_helper.events = -1;
    ivc_helper.pid = -1;
    ivc_helper.relay = -1;
    return 0;
}

void ivc_drain_events(void) {
    char stale[16];
    int saved = errno;
    while (recv(ivc_helper.events, stale, sizeof stale, MSG_DONTWAIT) > 0) {
    }
    errno = saved;
}

void ivc_say(const char *text, const char *detail) {
    int saved = errno;
    static const char prefix[] = "libinvoker-client: ";
    ivc_write_all(STDERR_FILENO, prefix, sizeof prefix - 1);
    ivc_write_all(STDERR_FILENO, text, strlen(text));
    if (detail != NULL) {
        ivc_write_all(STDERR_FILENO, ": ", 2);
        ivc_write_all(STDERR_FILENO, detail, strlen(detail));
    }
    ivc_write_all(STDERR_FILENO, "\n", 1);
    errno = saved;
}
