// Command fdag-flight serves fdag over Arrow Flight (docs/flight.md).
//
//	fdag-flight [--listen 127.0.0.1:8815] [--auth-token TOKEN ...]
//	            [--tls-cert FILE --tls-key FILE] [--project DIR] [--config FILE]
//	            [--max-exchanges N] [--max-message-bytes N] [--log-level LEVEL]
//	            [--drain-timeout 30s] [--max-actions N] [--max-gets N] [--max-puts N]
//	            [--max-flight-infos N] [--max-endpoints N] [--max-compile-time D]
//	            [--max-state-bytes N] [--max-fetch-buffer-bytes N]
//	            [--idle-timeout D] [--keepalive-time D] [--keepalive-timeout D]
//
// Every limit refuses a request past it with RESOURCE_EXHAUSTED naming the
// flag (docs/flight.md).
//
// The first line of stdout is "listening on HOST:PORT"; logs go to stderr.
// SIGINT or SIGTERM drains in-flight calls for up to --drain-timeout.
// FDAG_CPUPROFILE=FILE writes a CPU profile of the whole run to FILE when
// the server stops (bench/README.md profiles a DoExchange with it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/featuredag/fdag/flightserver"
	"github.com/featuredag/fdag/internal/cpuprofile"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fdag-flight:", err)
		os.Exit(1)
	}
}

func run() error {
	stopProfile := cpuprofile.Start("fdag-flight", os.Stderr)
	defer stopProfile()
	cfg, err := flightserver.ParseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		return err
	}
	level, _ := flightserver.ParseLogLevel(cfg.LogLevel)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := flightserver.New(cfg, flightserver.Options{Logger: log})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", srv.Addr())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		return err
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String(), "drain_timeout", srv.DrainTimeout())
		signal.Stop(sigs)
		ctx, cancel := context.WithTimeout(context.Background(), srv.DrainTimeout())
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("in-flight calls were cancelled at the drain deadline")
		}
		return <-done
	}
}
