package exchange

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/coder/websocket"
)

// DialWS connects to wsURL+suffix (suffix: what the venue appends, such as
// Binance's stream list, or "") and sets the connection's read limit. A
// failure is "<venue>: connecting to <wsURL>: ...".
func DialWS(ctx context.Context, venue, wsURL, suffix string, readLimit int64) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, wsURL+suffix, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: connecting to %s: %w", venue, wsURL, err)
	}
	conn.SetReadLimit(readLimit)
	return conn, nil
}

// SendJSON writes v as one JSON text frame; a failure is
// "<venue>: send: ...".
func SendJSON(ctx context.Context, conn *websocket.Conn, venue string, v any) error {
	b, _ := json.Marshal(v)
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("%s: send: %w", venue, err)
	}
	return nil
}

// ReadWS returns the first of the frames kept in *early (those that came
// while Dial waited for its acknowledgements), or else the next frame read
// from conn. A read failure is "<venue>: read: ...".
func ReadWS(ctx context.Context, conn *websocket.Conn, venue string, early *[][]byte) ([]byte, error) {
	if len(*early) > 0 {
		raw := (*early)[0]
		*early = (*early)[1:]
		return raw, nil
	}
	_, raw, err := conn.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", venue, err)
	}
	return raw, nil
}
