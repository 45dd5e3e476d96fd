// CDemangleShim: the demanglers, each returning a malloc'd string or NULL.
#include "CDemangleShim.h"

#include <stddef.h>
#include <libiberty/demangle.h>

extern char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status);

char *ivk_demangle_cxx(const char *mangled) {
    int status = 0;
    char *result = __cxa_demangle(mangled, NULL, NULL, &status);
    return status == 0 ? result : NULL;
}

char *ivk_demangle_rust(const char *mangled) { return rust_demangle(mangled, DMGL_PARAMS | DMGL_ANSI); }
