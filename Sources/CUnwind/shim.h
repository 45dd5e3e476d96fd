#pragma once
#include <libunwind-ptrace.h>
