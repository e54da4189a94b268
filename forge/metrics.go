package forge

import "log/slog"

// record logs the outcome of one call to a forge at debug level: "ok",
// "retry" (a transient failure that is retried in place), "failed" (the
// attempts ended), "queued" (kept for later), "flushed" (a queued delivery
// that went through) or "dead" (a queued delivery the forge refused for
// good). mooring runs as a one-shot command, so a log line is where a user
// looks for these, not a metrics endpoint that would live for one second.
func record(forgeName, op, result string) {
	slog.Debug("forge call", "forge", forgeName, "op", op, "result", result)
}
