// Deadline arithmetic saturates: no number of seconds traps; `never` does not expire and a huge
// negative number of seconds has already passed.

import Testing
import TracerKit

@Suite(.timeLimit(.minutes(1))) struct DeadlineTests {
    @Test(arguments: [1e10, 1e300, Double.infinity, 9.3e9])
    func hugeSecondsSaturateToNever(seconds: Double) {
        #expect(Deadline.now().adding(seconds: seconds) == .never)
    }

    @Test func negativeAndNaNDoNotTrap() {
        let now = Deadline.now()
        #expect(now.adding(seconds: -1e300) == .distantPast)
        #expect(now.adding(seconds: -.infinity) == .distantPast)
        #expect(now.adding(seconds: .nan) == now)
        #expect(now.adding(seconds: 1.5).instant == now.instant.advanced(by: .milliseconds(1500)))
        #expect(now.adding(seconds: 1.5).seconds(since: now) == 1.5)
        #expect(now.adding(seconds: -0.25).seconds(since: now) == -0.25)
    }

    @Test func neverDoesNotExpireAndTheDistantPastHasExpired() {
        #expect(!Deadline.never.hasExpired && Deadline.never.secondsRemaining > 1e9)
        #expect(Deadline.after(seconds: 1e9 - 1) < .never)
        #expect(Deadline.distantPast.hasExpired && Deadline.distantPast.secondsRemaining == 0)
        #expect(Deadline.distantPast < Deadline.now().adding(seconds: -1e9 + 1))
        let soon = Deadline.after(seconds: 60)
        #expect(!soon.hasExpired && soon.secondsRemaining > 59 && soon.secondsRemaining <= 60)
    }
}
