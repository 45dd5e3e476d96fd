#pragma once
#include <yajl/yajl_gen.h>

// yajl_gen_config is variadic, which Swift cannot call: a generator that indents by two spaces,
// as the JSON report is written (slashes unescaped, YAJL's default).
static inline yajl_gen ivk_yajl_indenting_generator(void) {
    yajl_gen generator = yajl_gen_alloc(NULL);
    if (generator != NULL) {
        yajl_gen_config(generator, yajl_gen_beautify, 1);
        yajl_gen_config(generator, yajl_gen_indent_string, "  ");
    }
    return generator;
}
