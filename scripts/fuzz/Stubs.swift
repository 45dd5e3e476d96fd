// What the fuzzed files need from TracerKit files the harness does not build (ProcFile.swift
// brings in the whole /proc layer).

extension Substring {
    package func trimmingWhitespace() -> String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
