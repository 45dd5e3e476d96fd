/*
 * ats-crasher-float: fixture_crash_float, built at -O2 (a target of its own: clang ignores
 * __attribute__((optimize)), and the rest of ats-crasher is built at -O0), so that at the faulting
 * store both of its doubles live only in SSE registers, and their DWARF locations say so:
 *
 *     movsd  <4.0>(%rip),%xmm1
 *     mulsd  %xmm0,%xmm1
 *     movsd  %xmm1,0x0          <- SIGSEGV here: ratio = 2.5 in xmm0, scaled = 10 in xmm1
 *
 * (`gdb -batch -ex 'info scope fixture_crash_float' ats-crasher`: "ratio is a variable in $xmm0",
 * "scaled ... a variable in $xmm1"; VariablesTests checks this before it relies on it.) The
 * kernel saves them with the signal context; ats-crasher's handler then overwrites every xmm
 * register, so a value read from anywhere but the signal context's FP state is wrong.
 */
#include "ats_crasher_float.h"

__attribute__((noinline)) void fixture_crash_float(double ratio) {
    double scaled = ratio * 4;
    /* Both are used after the store, so both stay live (in registers) across it. */
    __asm__ volatile("" : : "x"(scaled), "x"(ratio));
    *(volatile double *)0 = scaled;
    __asm__ volatile("" : : "x"(scaled), "x"(ratio));
}
