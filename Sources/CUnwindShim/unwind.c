// CUnwindShim: thin, prefixed wrappers of libunwind's macro-named calls.
#include "CUnwindShim.h"

unw_addr_space_t ivk_unw_create_addr_space(unw_accessors_t *accessors) {
    return unw_create_addr_space(accessors, 0);
}
void ivk_unw_destroy_addr_space(unw_addr_space_t space) { unw_destroy_addr_space(space); }
int ivk_unw_set_caching_policy(unw_addr_space_t space, unw_caching_policy_t policy) {
    return unw_set_caching_policy(space, policy);
}
int ivk_unw_init_remote(unw_cursor_t *cursor, unw_addr_space_t space, void *arg) {
    return unw_init_remote(cursor, space, arg);
}
int ivk_unw_step(unw_cursor_t *cursor) { return unw_step(cursor); }
int ivk_unw_get_reg(unw_cursor_t *cursor, int reg, unw_word_t *value) {
    return unw_get_reg(cursor, reg, value);
}
int ivk_unw_is_signal_frame(unw_cursor_t *cursor) { return unw_is_signal_frame(cursor); }
const char *ivk_unw_strerror(int code) { return unw_strerror(code); }

int ivk_unw_get_proc_info(unw_cursor_t *cursor, unw_proc_info_t *info) { return unw_get_proc_info(cursor, info); }
