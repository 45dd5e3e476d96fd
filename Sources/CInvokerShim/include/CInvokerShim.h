// CInvokerShim: the one small C shim of invoker. It exposes, under an `ivk_` prefix, what Swift
// cannot import directly: variadic calls (ptrace, prctl, syscall), the W* wait-status macros,
// gettid, the layout of the crash payload's siginfo_t/ucontext_t, the crash guard, and libdwfl's
// callbacks for a live process. It links libdw and libelf only: libunwind's entry points are in
// CUnwindShim, the demanglers in CDemangleShim (the targets that need them link them).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/uio.h>
#include <signal.h>
#include <elfutils/libdwfl.h>

// MARK: ptrace (variadic in glibc)

/// PTRACE_SEIZE with the given options; 0 or -1 with errno.
long ivk_ptrace_seize(pid_t tid, unsigned long options);
/// PTRACE_INTERRUPT: ask a seized thread to enter a ptrace-stop.
long ivk_ptrace_interrupt(pid_t tid);
/// PTRACE_DETACH, delivering `sig` (0 for none) as the thread resumes.
long ivk_ptrace_detach(pid_t tid, int sig);
/// PTRACE_GETREGS into `regs`.
long ivk_ptrace_getregs(pid_t tid, struct user_regs_struct *regs);

// MARK: wait status macros

int ivk_wifexited(int status);
int ivk_wexitstatus(int status);
int ivk_wifsignaled(int status);
int ivk_wtermsig(int status);
int ivk_wifstopped(int status);
int ivk_wstopsig(int status);
/// The PTRACE_EVENT_* number of a ptrace-stop (status >> 16), 0 for a plain signal stop.
int ivk_wptrace_event(int status);

// MARK: prctl and friends

int ivk_set_parent_death_signal(int sig);
int ivk_set_ptracer(pid_t tracer);
int ivk_set_dumpable(int dumpable);
pid_t ivk_gettid(void);
/// Sends `sig` to thread `tid` of process `tgid` (tgkill(2)).
int ivk_tgkill(pid_t tgid, pid_t tid, int sig);
/// pidfd_open(2): a descriptor that polls readable once process `pid` has exited; -1 with errno
/// (ENOSYS before Linux 5.3, ESRCH if it is already gone).
int ivk_pidfd_open(pid_t pid);
/// getresuid/getresgid and setresuid/setresgid (glibc declares them only with _GNU_SOURCE);
/// -1 leaves an id as it is.
int ivk_getresuid(uid_t *real, uid_t *effective, uid_t *saved);
int ivk_getresgid(gid_t *real, gid_t *effective, gid_t *saved);
int ivk_setresuid(uid_t real, uid_t effective, uid_t saved);
int ivk_setresgid(gid_t real, gid_t effective, gid_t saved);
/// Sets `sig` to SIG_DFL with the rt_sigaction system call itself: glibc's sigaction refuses its
/// own signals (32, 33), which posix_spawn leaves ignored in a child; only right before an exec.
int ivk_reset_signal_to_default(int sig);

// MARK: the crash payload's C structures (x86_64 glibc layout of the build host)

enum { IVK_SIGINFO_SIZE = 128, IVK_UCONTEXT_SIZE = 968, IVK_NGREG = 23 };

/// The fields of a siginfo_t a crash report uses, decoded from raw payload bytes.
struct ivk_siginfo {
    int32_t signo;
    int32_t errnum;
    int32_t code;
    int32_t pid;       ///< si_pid, meaningful for SI_USER/SI_TKILL/SI_QUEUE
    uint32_t uid;      ///< si_uid, same
    uint64_t address;  ///< si_addr, meaningful for SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP
};

/// Decodes IVK_SIGINFO_SIZE bytes laid out as siginfo_t.
void ivk_decode_siginfo(const void *bytes, struct ivk_siginfo *out);
/// Decodes IVK_UCONTEXT_SIZE bytes laid out as ucontext_t: its IVK_NGREG general registers
/// (indexed by glibc's REG_* numbers), and returns the target address of the FPU/SSE state it
/// points to (uc_mcontext.fpregs: the kernel saves it on the interrupted thread's stack).
uint64_t ivk_decode_ucontext(const void *bytes, uint64_t gregs[IVK_NGREG]);

/// Where xmm0 starts in the fxsave layout (struct _libc_fpstate of a signal context, and
/// struct user_fpregs_struct of PTRACE_GETFPREGS), and the size of each xmm register.
enum { IVK_FXSAVE_XMM_OFFSET = 160, IVK_XMM_SIZE = 16, IVK_XMM_COUNT = 16 };
/// PTRACE_GETFPREGS of a stopped thread; copies the low 8 bytes of xmm0..xmm15 to `xmm_low`.
long ivk_ptrace_get_xmm_low(pid_t tid, uint64_t xmm_low[IVK_XMM_COUNT]);


// MARK: elfutils

/// dwfl_begin with the callbacks for a live process (/proc/PID/maps, separate debug files
/// found by build-id and debuglink). The callbacks table is static.
Dwfl *ivk_dwfl_begin_for_process(void);
/// Sets the directories libdwfl searches for separate debug files (its debuginfo_path syntax:
/// colon-separated; build-ids are looked up as DIR/.build-id/xx/rest.debug in each absolute
/// DIR, in order); NULL restores libdwfl's default. Returns 0, or -1 when out of memory.
int ivk_dwfl_set_debuginfo_path(const char *path);

// MARK: core files (core.c)

/// A libdwfl session for a core file: modules found by build-id (dwfl_build_id_find_elf).
Dwfl *ivk_dwfl_begin_for_core(void);
/// One thread's NT_PRSTATUS note: its id, the signal it was handling, its registers.
struct ivk_core_prstatus {
    int32_t tid;
    int32_t signal;
    struct user_regs_struct regs;
};
/// Decodes an NT_PRSTATUS descriptor (struct elf_prstatus); -1 if it is too short.
int ivk_core_prstatus(const void *desc, size_t size, struct ivk_core_prstatus *out);
/// The process's NT_PRPSINFO note: pid, name (comm) and the start of its command line.
struct ivk_core_prpsinfo {
    int32_t pid;
    char name[17];
    char arguments[81];
};
/// Decodes an NT_PRPSINFO descriptor (struct elf_prpsinfo); -1 if it is too short.
int ivk_core_prpsinfo(const void *desc, size_t size, struct ivk_core_prpsinfo *out);

// MARK: GNU extensions (need _GNU_SOURCE, which Swift's Glibc module is not built with)

ssize_t ivk_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long local_count,
                             const struct iovec *remote, unsigned long remote_count);
/// "SEGV" for SIGSEGV (sigabbrev_np), or NULL.
const char *ivk_signal_abbreviation(int sig);


// MARK: files and logging

/// renameat2(RENAME_NOREPLACE): rename without replacing an existing file.
int ivk_rename_noreplace(const char *from, const char *to);
/// renameat2(RENAME_NOREPLACE) relative to directory descriptors.
int ivk_renameat_noreplace(int fromdir, const char *from, int todir, const char *to);
/// O_PATH (a _GNU_SOURCE flag Swift's Glibc module does not show).
int ivk_o_path(void);
/// An unnamed file in the directory `dirfd` (O_TMPFILE | O_WRONLY), to be linked in when complete.
int ivk_open_tmpfile(int dirfd, mode_t mode);
/// openlog(ident, LOG_PID|LOG_NDELAY, LOG_DAEMON); `ident` must stay valid.
void ivk_openlog(const char *ident);
/// syslog(priority, "%s", message).
void ivk_syslog(int priority, const char *message);

/// A crash's early release without fork()'s copy of the address space: clone(CLONE_VM) a child
/// that goes on from here in this memory, and make the calling process exit at once with
/// `status` (exit_group, nothing flushed, as `_exit`). Returns 0 in the child; -1, and nothing
/// happened, if it cannot (the caller then forks). Only for a process with one thread (no other
/// thread may hold a lock the child would then wait for); the child gets no alternate signal
/// stack and runs no pthread_atfork handlers.
pid_t ivk_continue_in_child_and_exit(int status);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are re-parented to us (tests use it to
/// wait for a helper whose server died first).
int ivk_become_child_subreaper(void);


// MARK: the crash guard (crash_guard.c): a report even when invoker itself crashes

/// Installs the handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP and SIGSYS (on an
/// alternate stack for this thread). Until a report is set, a crash only writes one line to the
/// fallback descriptor.
void ivk_guard_install(void);
/// Gives the calling thread an alternate signal stack if it has none (a stack overflow of ours
/// can still be reported).
void ivk_guard_protect_this_thread(void);
/// Publishes the report pre-rendered so far: a crash writes it to `path` (created, 0400, never
/// through a symlink) or, if that fails or `path` is NULL, to `fallback_fd`.
void ivk_guard_set_report(const char *bytes, size_t length, const char *path, int fallback_fd);
/// Withdraws the report (it was written by the normal path).
void ivk_guard_clear_report(void);
/// Says that another thread is rendering a report to publish: a crash of this thread waits for
/// it (at most a second, after releasing the target's threads) until `ivk_guard_set_report`.
void ivk_guard_expect_report(void);
/// What the calling thread is doing, for the crash line; `stage` must stay valid (a string
/// literal). Each thread has its own.
void ivk_guard_set_stage(const char *stage);
/// The target's threads held stopped by the calling thread (the tracer): a crash detaches them
/// first (a crash of another thread is relayed to the tracer, which alone can). NULL/0 when none are.
void ivk_guard_hold(const pid_t *tids, size_t count);
