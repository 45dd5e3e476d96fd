// FileDescriptor+Deadline: the two steps of reading what a server sends within the run's
// deadline (the crash payload, a client's request): wait for the descriptor to be readable, at
// most a second at a time and never past the deadline (poll(2), which swift-system does not wrap),
// then one read of what is there (FileDescriptor.read, EINTR retried).

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

extension FileDescriptor {
    /// What one bounded wait for input found.
    enum InputWait {
        /// Data, EOF or an error is there to read.
        case readable
        /// Nothing yet (the wait timed out, or a signal interrupted it): check the deadline, wait again.
        case notYet
        /// poll failed on the descriptor itself.
        case failed
    }

    /// Waits until this descriptor is readable, at most a second and never past `deadline`.
    func waitForInput(before deadline: Deadline) -> InputWait {
        var pfd = pollfd(fd: rawValue, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(max(1, min(1000, deadline.secondsRemaining * 1000))))
        if ready < 0 { return errno == EINTR ? .notYet : .failed }
        return ready == 0 ? .notYet : .readable
    }

    /// One read into `buffer`: the byte count, 0 at EOF or on an error (the end of the input
    /// either way), nil when there was nothing after all (EAGAIN on a non-blocking descriptor).
    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        do {
            return try read(into: buffer, retryOnInterrupt: true)
        } catch Errno.wouldBlock {
            return nil
        } catch {
            return 0
        }
    }
}
