// libcurl for the Sentry transport, loaded with dlopen only when something is sent: linked
// directly, libcurl and the ~30 libraries it needs (OpenSSL, nghttp2, LDAP, ...) would be mapped
// into every parked helper and slow its start-up, which the server waits for. The types and
// constants come from Debian's libcurl4-openssl-dev headers; the calls go through ivk_curl_*.
#pragma once
#include <stddef.h>
#include <curl/curl.h>

/// Loads libcurl.so.4 once; 0 on success, else -1 with the reason in `error`.
int ivk_curl_load(char *error, size_t size);

CURLcode ivk_curl_global_init(long flags);
CURL *ivk_curl_easy_init(void);
void ivk_curl_easy_cleanup(CURL *handle);
CURLcode ivk_curl_easy_perform(CURL *handle);
const char *ivk_curl_easy_strerror(CURLcode code);
struct curl_slist *ivk_curl_slist_append(struct curl_slist *list, const char *text);
void ivk_curl_slist_free_all(struct curl_slist *list);

// curl_easy_setopt and curl_easy_getinfo are variadic: Swift cannot call them, so each argument
// type gets a typed entry point.
CURLcode ivk_curl_set_long(CURL *handle, CURLoption option, long value);
CURLcode ivk_curl_set_pointer(CURL *handle, CURLoption option, const void *value);
typedef size_t (*ivk_curl_callback)(char *data, size_t size, size_t count, void *context);
CURLcode ivk_curl_set_callback(CURL *handle, CURLoption option, ivk_curl_callback value);
CURLcode ivk_curl_get_long(CURL *handle, CURLINFO info, long *value);
