// CUnwindShim: libunwind's remote-unwinding entry points under an `ivk_` prefix (their names are
// macros that expand to _Ux86_64_*, which Swift cannot call). Only the unwinder links libunwind.
#pragma once

#include <libunwind-ptrace.h>

unw_addr_space_t ivk_unw_create_addr_space(unw_accessors_t *accessors);
void ivk_unw_destroy_addr_space(unw_addr_space_t space);
int ivk_unw_set_caching_policy(unw_addr_space_t space, unw_caching_policy_t policy);
int ivk_unw_init_remote(unw_cursor_t *cursor, unw_addr_space_t space, void *arg);
int ivk_unw_step(unw_cursor_t *cursor);
int ivk_unw_get_reg(unw_cursor_t *cursor, int reg, unw_word_t *value);
int ivk_unw_is_signal_frame(unw_cursor_t *cursor);
const char *ivk_unw_strerror(int code);

/// unw_get_proc_info for the cursor's current frame: 0 if call-frame information covers it.
int ivk_unw_get_proc_info(unw_cursor_t *cursor, unw_proc_info_t *info);

/// Marks the start of a walk of `space` on this thread: accessors find `context` through
/// ivk_unw_context, and libunwind's cache lock stops changing the signal mask (see unwind.c).
void ivk_unw_begin_walk(unw_addr_space_t space, void *context);
/// Ends the walk begun on this thread.
void ivk_unw_end_walk(void);
/// The context given to ivk_unw_begin_walk if `space` is being walked on this thread, else NULL.
void *ivk_unw_context(unw_addr_space_t space);
