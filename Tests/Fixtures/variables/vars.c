/*
 * variables: a program whose frames hold known parameters and locals of every C kind, for the
 * variables tracer. The tests build it with gcc at -O0 and at -O2 (-g), stop it, and compare what
 * invoker prints with gdb's `info args` / `info locals` on the same stopped process.
 *
 * Usage: variables [--ready-fd FD] [--spin]
 *
 * Stack of the main thread, innermost first:
 *   read -> vars_block -> vars_registers -> vars_inlined [inlined] -> vars_leaf -> vars_middle
 *   -> vars_outer -> main
 * (the line "ready <pid>\n" goes to FD first; then it blocks reading a pipe nobody writes)
 *
 * What each frame holds (values are what -O0 shows; -O2 keeps what it keeps):
 *   vars_outer(depth = 3, label = "outer label"):
 *     shape {origin {x = -4, y = 9}, scale = 1.25, color = GREEN, tag = 'S', flags = 5, kind = 17},
 *     number (union, i = 1056964608 = f 0.5), primes {2, 3, 5, 7, 11, 13}, name[16] "outer",
 *     ratio 0.1, half 0.5f, ready true, color BLUE, big -1234567890123, port 8080, byte 200,
 *     letter 'A', newline '\n', zeros[16] all zero, grid {{1, 2, 3}, {4, 5, 6}}
 *   vars_middle(origin = &shape.origin, count = 3):
 *     nodes[3] a cyclic list (0 -> 1 -> 2 -> 0), head = &nodes[0], freed (a freed int *),
 *     null_pointer NULL, callback = vars_callback, text "hello, world", unterminated (100000
 *     'x' with no NUL), wild (char *) 0x10, global = &vars_counter
 *   vars_leaf(scale = 2.75, at = {x = 7, y = -8} by value, count = 3):
 *     sum (origin's x + y + count), values (an int VLA of 100000 elements, values[i] = i % 7)
 *   vars_inlined(fd, factor = 3, where = &at), inlined into vars_leaf: scaled 9, pair {a = 5, b = 3};
 *     at -O2 `where` is a synthetic pointer (DW_OP_implicit_pointer) to vars_leaf's `at`
 *   vars_registers(seed = 12, pair = {a = 5, b = 3}): squared 144 and mixed 6, which -O2 keeps in
 *     registers the callee saves; seed and pair are then known only as their values on entry,
 *     which the caller's call site records
 *   vars_block(fd, target): reads `fd`
 * With --spin, main instead calls vars_spin(rate = 1.5, scale = 0.25f), which says "ready" and
 * spins with doubled = 3 and quarter = 0.0625f kept in SSE registers (at -O2 their DWARF
 * locations are xmm registers): the innermost frame's floating-point values come from the
 * thread's xmm registers, rate and scale from main's call site (entry values of typed registers).
 * Globals: vars_counter = 7, vars_banner = "invoker", vars_origin = {x = 100, y = 200}; the
 * thread-local vars_tls_counter, 11 in the initial image, is 12 in the main thread, and the C
 * library's thread-local errno is EBADF (9) while vars_block waits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum color { RED, GREEN, BLUE };

struct point {
    int x;
    int y;
};

struct shape {
    struct point origin;
    double scale;
    enum color color;
    char tag;
    unsigned flags : 3;
    unsigned kind : 5;
};

union number {
    int i;
    float f;
};

struct pair {
    long a;
    long b;
};

struct node {
    int value;
    struct node *next;
};

int vars_counter = 7;
__thread int vars_tls_counter = 11;
const char *vars_banner = "invoker";
struct point vars_origin = {100, 200};

static int ready_fd = -1;
static volatile int vars_sink;

__attribute__((noinline)) void vars_callback(int value) { vars_sink = value; }

/* Keeps a value alive (and in memory) at -O2 without changing it. */
#define KEEP(value) __asm__ volatile("" : : "g"(&(value)) : "memory")

__attribute__((noinline)) int vars_block(int fd, volatile int *target) {
    (void)target;
    if (ready_fd >= 0) {
        dprintf(ready_fd, "ready %d\n", (int)getpid());
    }
    char byte;
    /* Leaves the thread's errno (the C library's thread-local) at EBADF (9) while it waits. */
    (void)close(-1);
    return (int)read(fd, &byte, 1);
}

__attribute__((noinline)) long vars_registers(int fd, long seed, struct pair pair) {
    long squared = seed * seed;
    long mixed = pair.a ^ pair.b;
    int result = vars_block(fd, (volatile int *)((char *)0 + 0x10));
    return squared + mixed + result;
}

/* Always inlined into vars_leaf, at every optimization level: its frame is an inlined one. */
static inline __attribute__((always_inline)) int vars_inlined(int fd, int factor, const struct point *where) {
    int scaled = factor * 3;
    struct pair pair = {5, 3};
    KEEP(scaled);
    return (int)vars_registers(fd, 12, pair) + scaled + where->y;
}

__attribute__((noinline)) int vars_leaf(double scale, struct point at, int count, struct point *origin) {
    int sum = origin->x + origin->y + count;
    int values[count * 33333 + 1];
    for (int i = 0; i < count * 33333 + 1; i++) {
        values[i] = i % 7;
    }
    KEEP(values);
    int pipes[2];
    if (pipe(pipes) != 0) {
        return -1;
    }
    int result = vars_inlined(pipes[0], count, &at);
    return result + sum + at.x + at.y + (int)scale + values[count];
}

__attribute__((noinline)) int vars_middle(struct point *origin, int count) {
    struct node nodes[3] = {{10, NULL}, {20, NULL}, {30, NULL}};
    nodes[0].next = &nodes[1];
    nodes[1].next = &nodes[2];
    nodes[2].next = &nodes[0];
    struct node *head = &nodes[0];
    int *freed = malloc(sizeof(int) * 4);
    free(freed);
    int *null_pointer = NULL;
    void (*callback)(int) = vars_callback;
    const char *text = "hello, world";
    char *unterminated = malloc(100000);
    memset(unterminated, 'x', 100000);
    char *wild = (char *)0 + 0x10;
    int *global = &vars_counter;
    KEEP(head);
    KEEP(freed);
    KEEP(null_pointer);
    KEEP(callback);
    KEEP(text);
    KEEP(unterminated);
    KEEP(wild);
    KEEP(global);
    struct point at = {7, -8};
    int result = vars_leaf(2.75, at, count, origin);
    callback(result);
    return result + head->next->value;
}

__attribute__((noinline)) int vars_outer(int depth, const char *label) {
    struct shape shape = {{-4, 9}, 1.25, GREEN, 'S', 5, 17};
    union number number;
    number.f = 0.5f;
    int primes[6] = {2, 3, 5, 7, 11, 13};
    char name[16] = "outer";
    double ratio = 0.1;
    float half = 0.5f;
    bool ready = true;
    enum color color = BLUE;
    long big = -1234567890123L;
    unsigned short port = 8080;
    unsigned char byte = 200;
    char letter = 'A';
    char newline = '\n';
    int zeros[16] = {0};
    int grid[2][3] = {{1, 2, 3}, {4, 5, 6}};
    KEEP(shape);
    KEEP(number);
    KEEP(primes);
    KEEP(name);
    KEEP(ratio);
    KEEP(half);
    KEEP(ready);
    KEEP(color);
    KEEP(big);
    KEEP(port);
    KEEP(byte);
    KEEP(letter);
    KEEP(newline);
    KEEP(zeros);
    KEEP(grid);
    int result = vars_middle(&shape.origin, depth);
    return result + (int)strlen(label) + name[0];
}

static volatile int vars_stop;

__attribute__((noinline)) double vars_spin(double rate, float scale) {
    if (ready_fd >= 0) {
        dprintf(ready_fd, "ready %d\n", (int)getpid());
    }
    double doubled = rate * 2;
    float quarter = scale / 4;
    while (!vars_stop) {
        __asm__ volatile("" : : "x"(doubled), "x"(quarter));
    }
    return doubled * quarter;
}

int main(int argc, char **argv) {
    int spin = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc) {
            ready_fd = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--spin") == 0) {
            spin = 1;
        } else {
            fprintf(stderr, "usage: variables [--ready-fd FD] [--spin]\n");
            return 64;
        }
    }
    if (spin) {
        return (int)vars_spin(1.5, 0.25f);
    }
    KEEP(vars_counter);
    vars_tls_counter = 12;
    return vars_outer(3, "outer label") + vars_banner[0] + vars_origin.x;
}
