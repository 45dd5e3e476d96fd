// variables (C++): known parameters and locals of the C++ kinds gdb's libstdc++ printers show by
// content, for the variables tracer. The tests build it with g++ at -O0 and -O2 (-g), stop it,
// and compare what invoker prints with gdb's `info args` / `info locals`.
//
// Usage: variables-cpp [--ready-fd FD]
//
// Stack of the main thread once ready, innermost first:
//   read -> fixture::wait_here -> fixture::inspect -> fixture::build -> main
// What each frame holds:
//   fixture::build(): greeting "hello" (short: in the string's own buffer), long_text 300 'y'
//     (on the heap; shown to 200 characters then "..."), numbers {1, 1, 2, 3, 5, 8} (capacity 8),
//     words {"alpha", "beta"}, empty (a vector of nothing), circle (a Circle: Shape base with a
//     vtable, radius 2.5), mode Mode::Fast, broken (a std::vector whose pointers were overwritten
//     with garbage: shown as corrupt, never read through)
//   fixture::inspect(const std::string &name, int &counter, const std::vector<int> &values,
//     const Shape &shape): references to build's greeting, a counter 41, numbers and circle
//   fixture::wait_here(int fd): reads `fd`
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace fixture {

enum class Mode { Slow, Fast };

struct Shape {
    explicit Shape(int sides) : sides(sides) {}
    virtual ~Shape() = default;
    virtual double area() const { return 0; }
    int sides;
};

struct Circle : Shape {
    explicit Circle(double radius) : Shape(0), radius(radius) {}
    double area() const override { return 3.0 * radius * radius; }
    double radius;
};

static int ready_fd = -1;

#define KEEP(value) __asm__ volatile("" : : "g"(&(value)) : "memory")

__attribute__((noinline)) int wait_here(int fd) {
    if (ready_fd >= 0) {
        dprintf(ready_fd, "ready %d\n", (int)getpid());
    }
    char byte;
    return (int)read(fd, &byte, 1);
}

__attribute__((noinline)) int inspect(const std::string &name, int &counter, const std::vector<int> &values, const Shape &shape) {
    int pipes[2];
    if (pipe(pipes) != 0) {
        return -1;
    }
    counter += 1;
    int result = wait_here(pipes[0]);
    return result + (int)name.size() + counter + (int)values.size() + shape.sides;
}

__attribute__((noinline)) int build() {
    std::string greeting = "hello";
    std::string long_text(300, 'y');
    std::vector<int> numbers = {1, 1, 2, 3, 5, 8};
    numbers.reserve(8);
    std::vector<std::string> words = {"alpha", "beta"};
    std::vector<int> empty;
    Circle circle(2.5);
    Mode mode = Mode::Fast;
    int counter = 40;
    std::vector<long> broken(4, 7);
    // Overwrite the vector's three pointers (start, finish, end of storage) with garbage, as a
    // memory-corrupting bug would.
    std::vector<long> *victim = &broken;
    unsigned long garbage[3] = {0x10, 0x8, 0x4};
    std::memcpy(static_cast<void *>(victim), garbage, sizeof garbage);
    KEEP(greeting);
    KEEP(long_text);
    KEEP(numbers);
    KEEP(words);
    KEEP(empty);
    KEEP(circle);
    KEEP(mode);
    KEEP(broken);
    int result = inspect(greeting, counter, numbers, circle);
    std::memset(static_cast<void *>(victim), 0, sizeof garbage);
    return result + (int)long_text.size() + (int)words.size() + (int)empty.size() + (int)mode;
}

} // namespace fixture

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc) {
            fixture::ready_fd = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: variables-cpp [--ready-fd FD]\n");
            return 64;
        }
    }
    return fixture::build();
}
