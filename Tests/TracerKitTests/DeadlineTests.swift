// Deadline arithmetic saturates: no number of seconds traps.

import Testing
import TracerKit

@Suite(.timeLimit(.minutes(1))) struct DeadlineTests {
    @Test(arguments: [1e10, 1e300, Double.infinity, 9.3e9])
    func hugeSecondsSaturateToNever(seconds: Double) {
        #expect(Deadline.now().adding(seconds: seconds) == .never)
    }

    @Test func negativeAndNaNDoNotTrap() {
        let now = Deadline.now()
        #expect(now.adding(seconds: -1e300) == Deadline(nanoseconds: 0))
        #expect(now.adding(seconds: .nan) == now)
        #expect(now.adding(seconds: 1.5).nanoseconds == now.nanoseconds + 1_500_000_000)
    }
}
