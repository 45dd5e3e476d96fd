// Core files: the libdwfl session for a core (executables and libraries found by build-id), and
// the two note descriptors whose layout is a kernel struct (<sys/procfs.h>) Swift cannot import.
#include "CInvokerShim.h"

#include <string.h>
#include <sys/procfs.h>

static char *core_debuginfo_path = NULL;
static const Dwfl_Callbacks core_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &core_debuginfo_path,
};

Dwfl *ivk_dwfl_begin_for_core(void) { return dwfl_begin(&core_callbacks); }

int ivk_core_prstatus(const void *desc, size_t size, struct ivk_core_prstatus *out) {
    struct elf_prstatus status;
    if (size < sizeof status) return -1;
    memcpy(&status, desc, sizeof status);
    out->tid = status.pr_pid;
    out->signal = status.pr_cursig;
    _Static_assert(sizeof status.pr_reg == sizeof out->regs, "elf_gregset_t is user_regs_struct");
    memcpy(&out->regs, &status.pr_reg, sizeof out->regs);
    return 0;
}

int ivk_core_prpsinfo(const void *desc, size_t size, struct ivk_core_prpsinfo *out) {
    struct elf_prpsinfo info;
    if (size < sizeof info) return -1;
    memcpy(&info, desc, sizeof info);
    out->pid = info.pr_pid;
    memcpy(out->name, info.pr_fname, sizeof info.pr_fname);
    out->name[sizeof info.pr_fname] = 0;
    memcpy(out->arguments, info.pr_psargs, sizeof info.pr_psargs);
    out->arguments[sizeof info.pr_psargs] = 0;
    return 0;
}
