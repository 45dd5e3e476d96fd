// rust-hang: a Rust program whose main thread blocks in a known chain, for comparing invoker's
// frames with eu-stack's. Built by the tests with rustc (-g, no optimisation).
//
//   rust-hang            writes "ready <pid>\n" to fd 3, then blocks forever
//
// Main thread, innermost first: (std's park internals) -> rust_hang::level_one ->
// rust_hang::level_two -> rust_hang::main -> (std's runtime)
use std::io::Write;
use std::os::fd::FromRawFd;

#[inline(never)]
fn level_one(marker: u32) -> u32 {
    let mut ready = unsafe { std::fs::File::from_raw_fd(3) };
    let _ = writeln!(ready, "ready {}", std::process::id());
    drop(ready);
    loop {
        std::thread::park();
    }
    #[allow(unreachable_code)]
    marker
}

#[inline(never)]
fn level_two(marker: u32) -> u32 {
    level_one(marker + 1) + 1
}

fn main() {
    std::process::exit(level_two(1) as i32);
}
