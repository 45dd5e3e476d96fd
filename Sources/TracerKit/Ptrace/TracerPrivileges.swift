// TracerPrivileges: the helper's user ids, and taking effective uid 0 back before attaching.
//
// Under Debian's systemd unit, traffic_manager runs with real uid 0 and effective uid
// trafficserver (seteuid, so it can take root back), and traffic_server forks the helper before
// it changes its own ids: the helper starts with real uid 0, effective uid trafficserver and no
// effective capabilities. PTRACE_SEIZE compares our REAL uid (0) with the server's (trafficserver)
// and then wants CAP_SYS_PTRACE: EPERM. A process whose real or saved uid is 0 may set its
// effective uid back to 0 (and the kernel then restores its permitted capabilities as effective),
// which is what traffic_crashlog does; setresuid refuses anything else, so nothing is gained that
// a process of that real uid could not have.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage

/// The real, effective and saved user ids of this process.
public struct UserIDs: Sendable, Equatable, CustomStringConvertible {
    public var real: uid_t
    public var effective: uid_t
    public var saved: uid_t

    public init(real: uid_t, effective: uid_t, saved: uid_t) {
        self.real = real; self.effective = effective; self.saved = saved
    }

    /// This process's ids (getresuid).
    public static var current: UserIDs {
        var real = uid_t(), effective = uid_t(), saved = uid_t()
        ivk_getresuid(&real, &effective, &saved)
        return UserIDs(real: real, effective: effective, saved: saved)
    }

    /// Whether the effective uid is not 0 but the real or saved one is: root can be taken back.
    public var canRegainRoot: Bool { effective != 0 && (real == 0 || saved == 0) }

    /// "real uid 0, effective uid 102, saved uid 0".
    public var description: String { "real uid \(real), effective uid \(effective), saved uid \(saved)" }
}

/// What `TracerPrivileges.regainRootIfPermitted()` did.
public enum RootRegain: Sendable, Equatable {
    /// The effective uid already was 0, or neither the real nor the saved uid is.
    case notNeeded
    /// The effective uid is 0 now; these were the ids before.
    case regained(from: UserIDs)
    /// setresuid refused.
    case refused(UserIDs, Errno)

    /// A sentence for the report, nil for `notNeeded`.
    public var sentence: String? {
        switch self {
        case .notNeeded: nil
        case .regained(let before): "took effective uid 0 back before attaching (the helper started with \(before))"
        case let .refused(before, error): "Could not take effective uid 0 back before attaching (\(before)): setresuid returned \(error.sentence)."
        }
    }
}

/// Taking the effective ids back before attaching.
public enum TracerPrivileges {
    /// If the real or saved uid is 0 and the effective one is not, sets the effective uid (and
    /// the effective gid, when the real or saved gid is 0) to 0.
    @discardableResult
    public static func regainRootIfPermitted() -> RootRegain {
        let before = UserIDs.current
        guard before.canRegainRoot else { return .notNeeded }
        var realGroup = gid_t(), effectiveGroup = gid_t(), savedGroup = gid_t()
        ivk_getresgid(&realGroup, &effectiveGroup, &savedGroup)
        // uid_t.max and gid_t.max are -1: "leave this id as it is". The uid first: with effective
        // uid 0 the group change is allowed whatever the group ids are.
        guard ivk_setresuid(uid_t.max, 0, uid_t.max) == 0 else { return .refused(before, Errno(rawValue: errno)) }
        if effectiveGroup != 0 && (realGroup == 0 || savedGroup == 0) { _ = ivk_setresgid(gid_t.max, 0, gid_t.max) }
        return .regained(from: before)
    }
}
