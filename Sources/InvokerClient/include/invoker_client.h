/*
 * invoker_client.h: the public interface of libinvoker-client, the library that gives any
 * program Traffic Server's crash helper protocol (see libinvoker-client(3)).
 *
 * Loaded with LD_PRELOAD=libinvoker-client.so, or linked in (-linvoker-client), its constructor
 * starts the parked `invoker` helper; a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP)
 * then produces a crash report and the program still dies of its own signal. Nothing needs to be
 * called for that; this header only adds the explicit, non-fatal snapshot.
 */
#ifndef INVOKER_CLIENT_H
#define INVOKER_CLIENT_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Asks the parked helper for a live capture of this process (every thread's stack, registers,
 * the collectors), which goes on running afterwards; the report ("snapshot-…") says `reason`
 * (at most 1023 bytes are sent; NULL is allowed). Blocks the calling thread until the report is
 * written; the other threads are stopped only while their registers and stacks are copied.
 *
 * Returns 0 when the helper took the snapshot and parked again, -1 with errno set otherwise:
 * ENOTCONN (no helper: not armed, disabled, or a forked child), EBUSY (another snapshot or a
 * crash report is in progress), EPIPE (the helper is gone).
 * Async-signal-safe: it may be called from a signal handler (INVOKER_SNAPSHOT_SIGNAL does so).
 */
int invoker_snapshot(const char *reason);

#ifdef __cplusplus
}
#endif

#endif
