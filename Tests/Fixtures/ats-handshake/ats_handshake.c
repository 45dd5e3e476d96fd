/* ats-handshake: see include/ats_handshake.h. */
#define _GNU_SOURCE
#include "ats_handshake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t ats_start_helper(const char *program, const char *helper, char **extra, int extra_count, int *socket_out) {
    int pair[2];
    int status;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
        perror("socketpair");
        exit(2);
    }
    pid_t helper_pid = fork();
    if (helper_pid < 0) {
        perror("fork");
        exit(2);
    }
    if (helper_pid == 0) {
        const char *base = strrchr(helper, '/') ? strrchr(helper, '/') + 1 : helper;
        char **argv = calloc((size_t)extra_count + 9, sizeof *argv);
        int argc = 0;
        if (pair[0] != STDIN_FILENO) {
            dup2(pair[0], STDIN_FILENO);
            close(pair[0]);
        }
        close(pair[1]);
        for (int fd = 3; fd < 1024; fd++) close(fd);
        argv[argc++] = (char *)base;
        argv[argc++] = "--syslog";
        argv[argc++] = "--wait";
        argv[argc++] = "--host";
        argv[argc++] = "x86_64-pc-linux-gnu";
        argv[argc++] = "--user";
        argv[argc++] = "root";
        for (int i = 0; i < extra_count; i++) argv[argc++] = extra[i];
        argv[argc] = NULL;
        execv(helper, argv);
        _exit(127);
    }
    close(pair[0]);
    *socket_out = pair[1];
    prctl(PR_SET_PTRACER, helper_pid, 0, 0, 0);
    while (waitpid(helper_pid, &status, WUNTRACED) < 0 && errno == EINTR) {
    }
    if (!WIFSTOPPED(status)) {
        fprintf(stderr, "%s: the helper did not park (status 0x%x)\n", program, status);
        exit(3);
    }
    return helper_pid;
}

size_t ats_build_payload(unsigned char *buffer, size_t capacity, const char *version, const struct ats_payload *payload) {
    int is_master = strcmp(version, "master") == 0;
    int is_102 = is_master || strcmp(version, "10.2") == 0;
    size_t length = 0;
    size_t needed = sizeof(int) + sizeof(pid_t) + sizeof(siginfo_t) + sizeof(ucontext_t) + sizeof(uint32_t)
                    + payload->text_bytes;
    if (capacity < needed) return 0;
    if (is_master) {
        memcpy(buffer + length, &payload->signo, sizeof payload->signo);
        length += sizeof payload->signo;
    }
    if (is_102) {
        memcpy(buffer + length, &payload->tid, sizeof payload->tid);
        length += sizeof payload->tid;
    }
    memcpy(buffer + length, &payload->info, sizeof payload->info);
    length += sizeof payload->info;
    memcpy(buffer + length, &payload->context, sizeof payload->context);
    length += sizeof payload->context;
    if (is_102) {
        memcpy(buffer + length, &payload->text_length, sizeof payload->text_length);
        length += sizeof payload->text_length;
        memcpy(buffer + length, payload->text, payload->text_bytes);
        length += payload->text_bytes;
    }
    return length;
}

void ats_write_all(int fd, const void *data, size_t size) {
    const char *bytes = data;
    while (size > 0) {
        ssize_t written = write(fd, bytes, size);
        if (written < 0) {
            if (errno == EINTR) continue;
            return;
        }
        bytes += written;
        size -= (size_t)written;
    }
}
