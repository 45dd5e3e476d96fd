// CInvokerShim: thin, prefixed wrappers. No logic lives here beyond what Swift cannot express.
#include "CInvokerShim.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

_Static_assert(sizeof(siginfo_t) == IVK_SIGINFO_SIZE, "siginfo_t layout differs from the ATS payload");
_Static_assert(offsetof(struct _libc_fpstate, _xmm) == IVK_FXSAVE_XMM_OFFSET, "fxsave layout differs");
_Static_assert(offsetof(struct user_fpregs_struct, xmm_space) == IVK_FXSAVE_XMM_OFFSET, "fxsave layout differs");
_Static_assert(sizeof(ucontext_t) == IVK_UCONTEXT_SIZE, "ucontext_t layout differs from the ATS payload");
_Static_assert(NGREG == IVK_NGREG, "gregset_t size differs");

long ivk_ptrace_seize(pid_t tid, unsigned long options) {
    return ptrace(PTRACE_SEIZE, tid, NULL, (void *)options);
}

long ivk_ptrace_interrupt(pid_t tid) {
    return ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
}

long ivk_ptrace_detach(pid_t tid, int sig) {
    return ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig);
}

long ivk_ptrace_getregs(pid_t tid, struct user_regs_struct *regs) {
    return ptrace(PTRACE_GETREGS, tid, NULL, regs);
}

int ivk_wifexited(int status) { return WIFEXITED(status); }
int ivk_wexitstatus(int status) { return WEXITSTATUS(status); }
int ivk_wifsignaled(int status) { return WIFSIGNALED(status); }
int ivk_wtermsig(int status) { return WTERMSIG(status); }
int ivk_wifstopped(int status) { return WIFSTOPPED(status); }
int ivk_wstopsig(int status) { return WSTOPSIG(status); }
int ivk_wptrace_event(int status) { return (status >> 16) & 0xff; }

int ivk_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }
int ivk_set_ptracer(pid_t tracer) { return prctl(PR_SET_PTRACER, tracer, 0, 0, 0); }
int ivk_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0); }
pid_t ivk_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int ivk_tgkill(pid_t tgid, pid_t tid, int sig) { return (int)syscall(SYS_tgkill, tgid, tid, sig); }

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
int ivk_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int ivk_getresuid(uid_t *real, uid_t *effective, uid_t *saved) { return getresuid(real, effective, saved); }
int ivk_getresgid(gid_t *real, gid_t *effective, gid_t *saved) { return getresgid(real, effective, saved); }
int ivk_setresuid(uid_t real, uid_t effective, uid_t saved) { return setresuid(real, effective, saved); }
int ivk_setresgid(gid_t real, gid_t effective, gid_t saved) { return setresgid(real, effective, saved); }

int ivk_reset_signal_to_default(int sig) {
    // The kernel's struct sigaction (x86_64): handler, flags, restorer, mask (8 bytes).
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } action = { 0 };
    action.handler = (void *)SIG_DFL;
    return (int)syscall(SYS_rt_sigaction, sig, &action, NULL, sizeof action.mask);
}

void ivk_decode_siginfo(const void *bytes, struct ivk_siginfo *out) {
    siginfo_t info;
    memcpy(&info, bytes, sizeof info);
    memset(out, 0, sizeof *out);
    out->signo = info.si_signo;
    out->errnum = info.si_errno;
    out->code = info.si_code;
    out->pid = info.si_pid;
    out->uid = info.si_uid;
    out->address = (uint64_t)(uintptr_t)info.si_addr;
}

uint64_t ivk_decode_ucontext(const void *bytes, uint64_t gregs[IVK_NGREG]) {
    ucontext_t context;
    memcpy(&context, bytes, sizeof context);
    for (int i = 0; i < IVK_NGREG; i++) gregs[i] = (uint64_t)context.uc_mcontext.gregs[i];
    return (uint64_t)(uintptr_t)context.uc_mcontext.fpregs;
}

long ivk_ptrace_get_xmm_low(pid_t tid, uint64_t xmm_low[IVK_XMM_COUNT]) {
    struct user_fpregs_struct fpregs;
    long result = ptrace(PTRACE_GETFPREGS, tid, NULL, &fpregs);
    if (result != 0) return result;
    for (int i = 0; i < IVK_XMM_COUNT; i++) memcpy(&xmm_low[i], (const char *)fpregs.xmm_space + i * IVK_XMM_SIZE, 8);
    return 0;
}


static char *debuginfo_path = NULL;
static const Dwfl_Callbacks process_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

Dwfl *ivk_dwfl_begin_for_process(void) { return dwfl_begin(&process_callbacks); }

int ivk_dwfl_set_debuginfo_path(const char *path) {
    // libdwfl reads the path through the pointer at every lookup: a change applies to every session.
    char *copy = NULL;
    if (path != NULL && (copy = strdup(path)) == NULL) return -1;
    char *old = debuginfo_path;
    debuginfo_path = copy;
    free(old);
    return 0;
}


ssize_t ivk_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long local_count,
                             const struct iovec *remote, unsigned long remote_count) {
    return process_vm_readv(pid, local, local_count, remote, remote_count, 0);
}

const char *ivk_signal_abbreviation(int sig) { return sigabbrev_np(sig); }


#include <stdio.h>
#include <syslog.h>
#include <fcntl.h>

int ivk_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}
int ivk_renameat_noreplace(int fromdir, const char *from, int todir, const char *to) {
    return renameat2(fromdir, from, todir, to, RENAME_NOREPLACE);
}
int ivk_o_path(void) { return O_PATH; }
int ivk_open_tmpfile(int dirfd, mode_t mode) { return openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode); }
void ivk_openlog(const char *ident) { openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON); }
void ivk_syslog(int priority, const char *message) { syslog(priority, "%s", message); }

int ivk_become_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }


// MARK: early release without copying the address space

pid_t ivk_continue_in_child_and_exit(int status) {
#if !defined(__x86_64__)
    (void)status;
    return -1;  // the asm below is x86_64's; elsewhere the caller forks
#else
    // glibc keeps this thread's id in its thread descriptor, at the address the kernel clears
    // when the thread exits (set_tid_address): the child takes it over as fork() would.
    int *tid_address = NULL;
    if (prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0) != 0 || tid_address == NULL) return -1;
    // No handler may run on the stack both processes share while the parent leaves.
    sigset_t all, old;
    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) return -1;
    // The parent's exit must not clear that word (the child's now) in the memory they share.
    syscall(SYS_set_tid_address, NULL);
    long result;
    register long child_tid __asm__("r10") = (long)tid_address;
    register long tls __asm__("r8") = 0;
    register long exit_status __asm__("r9") = status;
    // clone(CLONE_VM | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, no new stack): the
    // child goes on from here on this stack; the parent leaves through exit_group without
    // touching memory again (so no C code of its may run after the clone).
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jle 1f\n\t"
        "mov %%r9, %%rdi\n\t"
        "mov $231, %%eax\n\t"  // SYS_exit_group
        "syscall\n\t"
        "hlt\n\t"
        "1:\n\t"
        : "=a"(result)
        : "0"((long)SYS_clone), "D"((long)(CLONE_VM | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD)),
          "S"(0L), "d"(0L), "r"(child_tid), "r"(tls), "r"(exit_status)
        : "rcx", "r11", "memory");
    if (result < 0) syscall(SYS_set_tid_address, tid_address);  // no child: as we were
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return result < 0 ? -1 : 0;
#endif
}
