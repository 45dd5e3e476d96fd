/* ats-crasher-float: the one function of the ats-crasher fixture built with optimization (see float.c). */
#ifndef ATS_CRASHER_FLOAT_H
#define ATS_CRASHER_FLOAT_H

/* Writes ratio * 4 through a null pointer: SIGSEGV with both doubles in xmm registers. */
void fixture_crash_float(double ratio);

#endif
