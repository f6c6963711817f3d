// Command capacitor-backend is the API behind an Ionic/Capacitor app that
// logs in with Keycloak: see package app for the routes and docs/examples.md
// at the repository root for the environment variables.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "capacitor-backend:", err)
		os.Exit(1)
	}
}
