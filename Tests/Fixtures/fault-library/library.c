/*
 * fault-library: a shared library the fault-server dlopens (--dlopen) so that one thread's stack
 * runs through it: fault_library_main -> damaged_block -> damaged_inner -> read. The fault suite
 * damages a copy of it (its .eh_frame_hdr) to make libunwind abort() inside invoker.
 */
#include "fault_library.h"

#include <errno.h>
#include <unistd.h>

__attribute__((noinline)) void damaged_inner(int fd) {
    char byte;
    while (read(fd, &byte, 1) < 0 && errno == EINTR) {
    }
}

__attribute__((noinline)) void damaged_block(int fd) {
    damaged_inner(fd);
    __asm__ volatile("");
}
