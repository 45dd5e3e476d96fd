// See ivk_curl.h: libcurl's entry points, found with dlsym the first time a report is sent.
#include "ivk_curl.h"
#include <dlfcn.h>
#include <stdio.h>

static CURLcode (*p_global_init)(long);
static CURL *(*p_easy_init)(void);
static void (*p_easy_cleanup)(CURL *);
static CURLcode (*p_easy_perform)(CURL *);
static const char *(*p_easy_strerror)(CURLcode);
static struct curl_slist *(*p_slist_append)(struct curl_slist *, const char *);
static void (*p_slist_free_all)(struct curl_slist *);
static CURLcode (*p_easy_setopt)(CURL *, CURLoption, ...);
static CURLcode (*p_easy_getinfo)(CURL *, CURLINFO, ...);

int ivk_curl_load(char *error, size_t size) {
    if (p_easy_init) return 0;
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(error, size, "cannot load libcurl.so.4 (Debian: libcurl4): %s", dlerror());
        return -1;
    }
#define IVK_FIND(pointer, name) \
    if (!(*(void **)&pointer = dlsym(library, name))) { \
        snprintf(error, size, "libcurl.so.4 lacks %s", name); \
        return -1; \
    }
    IVK_FIND(p_global_init, "curl_global_init")
    IVK_FIND(p_easy_cleanup, "curl_easy_cleanup")
    IVK_FIND(p_easy_perform, "curl_easy_perform")
    IVK_FIND(p_easy_strerror, "curl_easy_strerror")
    IVK_FIND(p_slist_append, "curl_slist_append")
    IVK_FIND(p_slist_free_all, "curl_slist_free_all")
    IVK_FIND(p_easy_setopt, "curl_easy_setopt")
    IVK_FIND(p_easy_getinfo, "curl_easy_getinfo")
    // Last: its presence means every entry point was found.
    IVK_FIND(p_easy_init, "curl_easy_init")
#undef IVK_FIND
    return 0;
}

CURLcode ivk_curl_global_init(long flags) { return p_global_init(flags); }
CURL *ivk_curl_easy_init(void) { return p_easy_init(); }
void ivk_curl_easy_cleanup(CURL *handle) { p_easy_cleanup(handle); }
CURLcode ivk_curl_easy_perform(CURL *handle) { return p_easy_perform(handle); }
const char *ivk_curl_easy_strerror(CURLcode code) { return p_easy_strerror(code); }
struct curl_slist *ivk_curl_slist_append(struct curl_slist *list, const char *text) { return p_slist_append(list, text); }
void ivk_curl_slist_free_all(struct curl_slist *list) { p_slist_free_all(list); }
CURLcode ivk_curl_set_long(CURL *handle, CURLoption option, long value) { return p_easy_setopt(handle, option, value); }
CURLcode ivk_curl_set_pointer(CURL *handle, CURLoption option, const void *value) { return p_easy_setopt(handle, option, value); }
CURLcode ivk_curl_set_callback(CURL *handle, CURLoption option, ivk_curl_callback value) { return p_easy_setopt(handle, option, value); }
CURLcode ivk_curl_get_long(CURL *handle, CURLINFO info, long *value) { return p_easy_getinfo(handle, info, value); }
