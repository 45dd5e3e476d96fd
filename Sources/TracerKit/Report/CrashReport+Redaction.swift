// CrashReport+Redaction: one pass of the Redactor over every text of a report that can carry a
// secret: the command line, external tracers' command lines and output, section values (the
// environment, command lines), variable values, problems and notes. Writers call it before they
// render, so no format has a way around it.

extension CrashReport {
    /// Redacts every secret in place (idempotent: a second pass changes nothing).
    public mutating func redact(with redactor: Redactor) {
        commandLine = redactor.redactArguments(commandLine)
        for index in tracerRuns.indices {
            tracerRuns[index].command = tracerRuns[index].command.map(redactor.redactArguments)
            tracerRuns[index].output = tracerRuns[index].output.map(redactor.redactText)
            tracerRuns[index].outcome = redactor.redactText(tracerRuns[index].outcome)
        }
        for index in sections.indices {
            sections[index].fields = sections[index].fields.map { Self.redact($0, with: redactor) }
            sections[index].problems = sections[index].problems.map(redactor.redactText)
        }
        for thread in threads.indices {
            for frame in threads[thread].frames.indices {
                threads[thread].frames[frame].variables = threads[thread].frames[frame].variables.map { Self.redact($0, with: redactor) }
                for level in threads[thread].frames[frame].inlined.indices {
                    threads[thread].frames[frame].inlined[level].variables =
                        threads[thread].frames[frame].inlined[level].variables.map { Self.redact($0, with: redactor) }
                }
            }
        }
        globals = globals.map { Self.redact($0, with: redactor) }
        // Traffic Server's records ("proxy.config.x.password: value"): by name and by shape.
        configurationRecords = configurationRecords?.map(redactor.redactText)
        problems = problems.map(redactor.redactText)
        notes = notes.map(redactor.redactText)
    }

    private static func redact(_ field: Field, with redactor: Redactor) -> Field {
        var field = field
        switch field.value {
        case .text(let text): field.value = .text(redactor.isSecretName(field.key) ? Redactor.marker : redactor.redactText(text))
        case .list(let items):
            field.value = .list(field.key == "command_line" ? redactor.redactArguments(items)
                                : field.key == "environment" ? items.map(redactor.redactEnvironmentEntry) : items.map(redactor.redactText))
        case .group(let inner): field.value = .group(inner.map { redact($0, with: redactor) })
        case .integer, .number, .flag: break
        }
        return field
    }

    private static func redact(_ variable: Variable, with redactor: Redactor) -> Variable {
        var variable = variable
        variable.value = variable.value.map(redactor.redactText)
        variable.pointee = variable.pointee.map(redactor.redactText)
        return variable
    }
}
