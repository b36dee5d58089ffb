"""Running deployed workflows and the OpenTelemetry bridge into the log."""
