package registry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// forwardedHeader marks a request that one instance forwarded to another, so
// that a request is forwarded at most once.
const forwardedHeader = "X-Tickertape-Forwarded"

var forwardClient = &http.Client{Timeout: 30 * time.Second}

// forward handles a write request on an instance that is not the leader by
// sending it to the leader and copying the answer back. It reports whether
// it answered the request; false means this instance is the leader and must
// handle it. Before an election has finished it waits (up to WriteTimeout).
func (r *Registry) forward(w http.ResponseWriter, req *http.Request) bool {
	ctx, cancel := context.WithTimeout(req.Context(), r.cfg.WriteTimeout)
	defer cancel()
	for {
		self, known, url, changed := r.elec.leader()
		if self {
			return false
		}
		if known {
			if url == "" {
				r.respond(w, req, nil, errf(CodeForwardingError, "This instance is not the leader and the leader advertises no URL to forward to; give every registry instance --advertised-url, or send writes to the leader"))
				return true
			}
			if req.Header.Get(forwardedHeader) != "" {
				r.respond(w, req, nil, errf(CodeForwardingError, "A forwarded request reached an instance that is not the leader; the election is changing, retry"))
				return true
			}
			r.proxy(ctx, w, req, url)
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			r.respond(w, req, nil, errf(CodeForwardingError, "No schema registry leader was elected within %s; is an instance with leader eligibility running against these brokers?", r.cfg.WriteTimeout))
			return true
		}
	}
}

func (r *Registry) proxy(ctx context.Context, w http.ResponseWriter, req *http.Request, leader string) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.respond(w, req, nil, errf(CodeForwardingError, "Error while forwarding the request to the leader: reading the body: %v", err))
		return
	}
	out, err := http.NewRequestWithContext(ctx, req.Method, leader+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		r.respond(w, req, nil, errf(CodeForwardingError, "Error while forwarding the request to the leader %s: %v", leader, err))
		return
	}
	for _, h := range []string{"Content-Type", "Accept", "Authorization"} {
		if v := req.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	out.Header.Set(forwardedHeader, "1")
	resp, err := r.fwd.Do(out)
	if err != nil {
		r.respond(w, req, nil, errf(CodeForwardingError, "Error while forwarding the request to the leader %s: %v", leader, err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 && req.Method != http.MethodGet {
		// Read-your-writes: the leader answered once the write was in the
		// topic; read it here too before answering, so a client that
		// reads from this instance next sees what it just wrote.
		if e := r.catchUp(ctx); e != nil {
			r.respond(w, req, nil, e)
			return
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
