package broker

// The request log: at --log-level debug every answered request is logged
// with its API, version, client id, the client's address and the first
// non-zero error code anywhere in the response (Kafka's request log, much
// abridged), at most requestLogPerSecond lines a second; the lines dropped
// beyond that are counted in the next one. At other levels it costs one
// Enabled check per response.

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const requestLogPerSecond = 100

type requestLog struct {
	mu         sync.Mutex
	second     time.Time        // start of the current one-second window
	n          int              // lines logged in it
	suppressed int              // lines dropped since the last logged one
	now        func() time.Time // the clock (tests freeze it); nil is time.Now
}

// logRequest logs one answered request at debug level, rate-limited.
func (b *Broker) logRequest(c *conn, key int16, resp kmsg.Response) {
	if !b.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	rl := &b.reqLog
	rl.mu.Lock()
	now := time.Now()
	if rl.now != nil {
		now = rl.now()
	}
	if now.Sub(rl.second) >= time.Second {
		rl.second, rl.n = now, 0
	}
	if rl.n >= requestLogPerSecond {
		rl.suppressed++
		rl.mu.Unlock()
		return
	}
	rl.n++
	suppressed := rl.suppressed
	rl.suppressed = 0
	rl.mu.Unlock()
	attrs := []any{"api", kmsg.NameForKey(key), "version", resp.GetVersion(), "client_id", c.clientID, "client", c.nc.RemoteAddr().String()}
	if code := firstErrorCode(reflect.ValueOf(resp), 0); code != 0 {
		name := "UNKNOWN"
		if err := kerr.ErrorForCode(code); err != nil {
			if ke, ok := err.(*kerr.Error); ok {
				name = ke.Message
			}
		}
		attrs = append(attrs, "error_code", code, "error", name)
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed_before", suppressed)
	}
	b.log.Debug("request", attrs...)
}

// firstErrorCode finds the first non-zero ErrorCode field in a response,
// depth first (top level, then topics, then partitions).
func firstErrorCode(v reflect.Value, depth int) int16 {
	if depth > 6 {
		return 0
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 0
		}
		return firstErrorCode(v.Elem(), depth+1)
	case reflect.Struct:
		if f := v.FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 && f.Int() != 0 {
			return int16(f.Int())
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Slice || f.Kind() == reflect.Struct {
				if code := firstErrorCode(f, depth+1); code != 0 {
					return code
				}
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return 0 // bytes, such as record batches
		}
		for i := range v.Len() {
			if code := firstErrorCode(v.Index(i), depth+1); code != 0 {
				return code
			}
		}
	}
	return 0
}
