/*
 * cpp-hang: a C++ program built at -O2 whose threads block in a known, partly inlined call chain,
 * for comparing invoker's frames (names, inline frames, file:line) with eu-stack's and gdb's on
 * the same stopped process.
 *
 *   cpp-hang [--threads N] [--ready-fd FD]
 *
 * Every thread (the main one and N-1 workers, default 3 in all) blocks with the stack, innermost
 * first:
 *   read -> fixture::deep::block(int) -> fixture::deep::Box<int>::twice() const [inlined]
 *        -> fixture::deep::compute<int>(fixture::deep::Box<int> const&) -> (main | worker_main)
 * Box<int>::twice is always_inline: its body, with the call to block, is inside compute<int>.
 * Once every thread is in place, "ready <pid>\n" is written to --ready-fd.
 */
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <unistd.h>

static int ready_pipe[2];
static int block_pipe[2];
static volatile int sink;

namespace fixture {
namespace deep {

__attribute__((noinline)) void block(int id) {
    char byte = static_cast<char>(id);
    while (write(ready_pipe[1], &byte, 1) < 0 && errno == EINTR) {
    }
    while (read(block_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    sink = byte;
}

template <typename T>
struct Box {
    T value;
    __attribute__((always_inline)) inline T twice() const {
        block(static_cast<int>(value));
        return value * 2;
    }
};

template <typename T>
__attribute__((noinline)) T compute(const Box<T> &box) {
    T result = box.twice();
    return result + 1;
}

}  // namespace deep
}  // namespace fixture

static void *worker_main(void *argument) {
    fixture::deep::Box<int> box{static_cast<int>(reinterpret_cast<long>(argument))};
    sink = fixture::deep::compute(box);
    return nullptr;
}

int main(int argc, char **argv) {
    int threads = 3, ready_fd = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--ready-fd") == 0) ready_fd = std::atoi(argv[i + 1]);
    }
    if (pipe(ready_pipe) != 0 || pipe(block_pipe) != 0) return 2;
    for (long i = 1; i < threads; i++) {
        pthread_t thread;
        pthread_create(&thread, nullptr, worker_main, reinterpret_cast<void *>(i));
    }
    for (int i = 1; i < threads; i++) {
        char byte;
        while (read(ready_pipe[0], &byte, 1) < 0 && errno == EINTR) {
        }
    }
    if (ready_fd >= 0) {
        char line[64];
        int length = std::snprintf(line, sizeof line, "ready %d\n", static_cast<int>(getpid()));
        (void)!write(ready_fd, line, static_cast<size_t>(length));
    }
    fixture::deep::Box<int> box{0};
    /* The main thread's own block() writes one more byte to the ready pipe nobody reads: fine. */
    sink = fixture::deep::compute(box);
    return 0;
}
