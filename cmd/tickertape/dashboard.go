package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/internal/grouplag"
	"github.com/tickertape/tickertape/internal/topics"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/web"
)

// startDashboard registers the pipeline's metrics and serves the dashboard
// and /metrics: on the embedded stack's --http-addr, or (against external
// brokers, and for ingest and process alone) on a listener of its own. It
// returns a nil server when HTTP is off.
func startDashboard(p *pipeline.Pipeline, httpAddr string, intervals string, logger *slog.Logger, stdout io.Writer) (*web.Server, func(), error) {
	stack, info := p.Stack(), p.Info()
	brokers := info.Brokers
	names := topics.Names{Events: info.Topics[0], Candles: info.Topics[1], Late: info.Topics[2], DeadLetter: info.Topics[3]}
	kopts, sopts := p.ClientOpts()
	srcl, err := sr.NewClient(sopts...)
	if err != nil {
		return nil, nil, err
	}
	var reg *prometheus.Registry
	closers := []func(){}
	stop := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if stack != nil {
		reg = stack.Metrics
	} else {
		if httpAddr == "" {
			return nil, func() {}, nil
		}
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID("tickertape-metrics")}, kopts...)...)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, cl.Close)
		reg.MustRegister(grouplag.New(kadm.NewClient(cl), 0))
	}
	reg.MustRegister(p.Collector())
	var ivs []string
	for _, iv := range strings.Split(intervals, ",") {
		if iv = strings.TrimSpace(iv); iv != "" {
			ivs = append(ivs, iv)
		}
	}
	dash, err := web.New(web.Config{Brokers: brokers, KafkaOpts: kopts, Serde: serde.New(srcl), Topics: names, Gatherer: reg, Intervals: ivs, Logger: logger})
	if err != nil {
		stop()
		return nil, nil, err
	}
	base := ""
	if stack != nil {
		if stack.HTTPURL() == "" {
			return nil, stop, nil
		}
		stack.SetHTTPHandler(dash.Handler())
		base = stack.HTTPURL()
	} else {
		ln, err := net.Listen("tcp", httpAddr)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("http listener on %s: %w (is another server using it? choose another address with --http-addr, or turn it off with --http-addr '')", httpAddr, err)
		}
		srv := &http.Server{Handler: dash.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		closers = append(closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.Shutdown(ctx) // open event streams end when the pipeline's context does
			srv.Close()
		})
		base = "http://" + ln.Addr().String()
	}
	fmt.Fprintf(stdout, "dashboard %s/  (metrics: %s/metrics)\n", base, base)
	return dash, stop, nil
}
