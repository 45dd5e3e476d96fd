#pragma once
#include <zlib.h>

// deflateInit2 is a macro (it passes the library version and the stream's size).
static inline int ivk_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
static inline int ivk_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
