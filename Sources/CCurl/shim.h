#pragma once
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic: Swift cannot call them, so each argument
// type gets a typed entry point.
static inline CURLcode ivk_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ivk_curl_set_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}
typedef size_t (*ivk_curl_callback)(char *data, size_t size, size_t count, void *context);
static inline CURLcode ivk_curl_set_callback(CURL *handle, CURLoption option, ivk_curl_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ivk_curl_get_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
