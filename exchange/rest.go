package exchange

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// RESTGet does one REST GET of base+path with client and returns the body
// of a 200 answer, read up to limit bytes. Transport and read errors are
// "<venue>: GET <path>: ..."; any other status is a *RESTError naming the
// venue (NewRESTError). header, when not nil, sees the answer's header
// before the body is read (Binance's used request weight).
func RESTGet(ctx context.Context, client *http.Client, venue, base, path string, limit int64, header func(http.Header)) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: GET %s: %w", venue, path, err)
	}
	defer resp.Body.Close()
	if header != nil {
		header(resp.Header)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("%s: GET %s: %w", venue, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, NewRESTError(venue, req, resp, body)
	}
	return body, nil
}

// RESTClient is client, or when nil the connectors' default REST client (a
// 15 s timeout).
func RESTClient(client *http.Client) *http.Client {
	if client == nil {
		return &http.Client{Timeout: 15 * time.Second}
	}
	return client
}

// Clock is now, or time.Now when nil: a connector's receive clock.
func Clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
