// Command dashcheck opens the tickertape dashboard in real headless Chromium
// (through the DevTools protocol), waits for live data and checks through
// the page's DOM that the candle chart has drawn candles (the series holds
// bars and the chart's canvas has candle-coloured pixels) and that the
// health view shows non-zero rates; it saves a screenshot. CI runs it
// against tickertape demo (scripts/dashboard-check).
//
//	go run ./scripts/dashcheck -url http://127.0.0.1:8080/ -screenshot dash.png
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// probe is evaluated in the page; it reports what the checks need.
const probe = `(() => {
  const chart = document.getElementById('chart');
  let candlePixels = 0;
  for (const c of chart.querySelectorAll('canvas')) {
    try {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 16) {
        const r = d[i], g = d[i + 1], b = d[i + 2];
        if ((Math.abs(r - 38) < 6 && Math.abs(g - 166) < 6 && Math.abs(b - 154) < 6) ||
            (Math.abs(r - 239) < 6 && Math.abs(g - 83) < 6 && Math.abs(b - 80) < 6)) candlePixels++;
      }
    } catch (e) {}
  }
  return JSON.stringify({
    bars: +chart.dataset.bars, candlePixels,
    rates: +document.getElementById('health').dataset.nonzeroRates,
    live: document.body.dataset.live === 'true',
    title: document.getElementById('title').textContent,
    status: document.getElementById('status').textContent,
    tiles: [...document.querySelectorAll('#health .tile')].slice(0, 6).map(t => t.textContent),
  });
})()`

type result struct {
	Bars         int      `json:"bars"`
	CandlePixels int      `json:"candlePixels"`
	Rates        int      `json:"rates"`
	Live         bool     `json:"live"`
	Title        string   `json:"title"`
	Status       string   `json:"status"`
	Tiles        []string `json:"tiles"`
}

func main() {
	url := flag.String("url", "", "dashboard URL (required)")
	shot := flag.String("screenshot", "dashboard.png", "where to save the screenshot (PNG)")
	browser := flag.String("chromium", "chromium", "the Chromium binary")
	minBars := flag.Int("min-bars", 3, "candles the chart must hold")
	timeout := flag.Duration("timeout", 90*time.Second, "how long to wait for live data")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "dashcheck: -url is required")
		os.Exit(2)
	}
	if err := run(*url, *shot, *browser, *minBars, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "dashcheck: FAIL:", err)
		os.Exit(1)
	}
}

func run(url, shot, browser string, minBars int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "dashcheck-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--no-first-run", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--user-data-dir="+dir, "--window-size=1400,1100", "about:blank")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (install it: apt-get install chromium)", browser, err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	port, err := devToolsPort(ctx, filepath.Join(dir, "DevToolsActivePort"))
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://127.0.0.1:"+port+"/json/new?"+neturl.QueryEscape(url), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("open a tab: %w", err)
	}
	var target struct {
		WS string `json:"webSocketDebuggerUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&target)
	resp.Body.Close()
	if err != nil || target.WS == "" {
		return fmt.Errorf("open a tab: no debugger URL (%v)", err)
	}
	ws, _, err := websocket.Dial(ctx, target.WS, nil)
	if err != nil {
		return fmt.Errorf("connect to the tab: %w", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(64 << 20)
	cdp := &client{ws: ws}

	deadline := time.Now().Add(timeout)
	var last result
	for {
		raw, err := cdp.call(ctx, "Runtime.evaluate", map[string]any{"expression": probe, "returnByValue": true})
		if err != nil {
			return err
		}
		var ev struct {
			Result struct {
				Value string `json:"value"`
			} `json:"result"`
		}
		if json.Unmarshal(raw, &ev) == nil && ev.Result.Value != "" {
			json.Unmarshal([]byte(ev.Result.Value), &last)
		}
		if last.Live && last.Bars >= minBars && last.CandlePixels > 0 && last.Rates > 0 {
			break
		}
		if time.Now().After(deadline) {
			saveScreenshot(ctx, cdp, shot)
			return fmt.Errorf("after %s the page shows %+v (want live data, >= %d candles drawn, non-zero rates); screenshot in %s", timeout, last, minBars, shot)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // let a few more live updates draw before the picture
	if err := saveScreenshot(ctx, cdp, shot); err != nil {
		return err
	}
	fmt.Printf("dashcheck: PASS: %s — %d candles in the chart (%d candle-coloured pixels), %d non-zero rates in the health view, status %q; health: %s; screenshot %s\n",
		last.Title, last.Bars, last.CandlePixels, last.Rates, last.Status, strings.Join(last.Tiles, " | "), shot)
	return nil
}

func saveScreenshot(ctx context.Context, cdp *client, path string) error {
	raw, err := cdp.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"})
	if err != nil {
		return err
	}
	var s struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(s.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// devToolsPort waits for Chromium to write the port it listens on.
func devToolsPort(ctx context.Context, file string) (string, error) {
	for {
		if f, err := os.Open(file); err == nil {
			sc := bufio.NewScanner(f)
			ok := sc.Scan()
			f.Close()
			if ok && strings.TrimSpace(sc.Text()) != "" {
				return strings.TrimSpace(sc.Text()), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", errors.New("chromium did not open its DevTools port")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// client is the smallest DevTools protocol client: one call at a time.
type client struct {
	ws *websocket.Conn
	id int
}

func (c *client) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	c.id++
	msg, _ := json.Marshal(map[string]any{"id": c.id, "method": method, "params": params})
	if err := c.ws.Write(ctx, websocket.MessageText, msg); err != nil {
		return nil, err
	}
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		var r struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &r) != nil || r.ID != c.id {
			continue // an event, or another call's answer
		}
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		return r.Result, nil
	}
}
