package statuspage

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// events streams server-sent events: a "change" event (its id and data the
// new version) whenever the pages change after the version the client has,
// which it names with ?since= or, on a reconnect, the Last-Event-ID header.
// A client that is behind when it connects gets one event at once.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	have := parseVersion(r.URL.Query().Get("since"))
	if id := parseVersion(r.Header.Get("Last-Event-ID")); id > have {
		have = id
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// A retry of 2 s keeps a page within the 2 s after a restart.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	fl.Flush()
	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()
	for {
		snap := h.src.Snapshot()
		if snap.Version != have {
			have = snap.Version
			if _, err := fmt.Fprintf(w, "id: %d\nevent: change\ndata: %d\n\n", have, have); err != nil {
				return
			}
			fl.Flush()
		}
		select {
		case <-snap.Changed:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": still here\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-h.closed:
			return
		}
	}
}

func parseVersion(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return v
}
