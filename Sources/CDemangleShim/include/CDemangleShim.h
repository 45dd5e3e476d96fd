// CDemangleShim: the C++ runtime's demangler and libiberty's Rust demangler, under an `ivk_`
// prefix. Only the symbolizer links libstdc++ and libiberty for them.
#pragma once


/// The C++ runtime's demangler (__cxa_demangle). Returns a malloc'd string or NULL.
char *ivk_demangle_cxx(const char *mangled);

/// libiberty's Rust demangler (legacy and v0 manglings). Returns a malloc'd string or NULL.
char *ivk_demangle_rust(const char *mangled);
