package main

import (
	"testing"

	"github.com/tokenwarden/tokenwarden/examples/internal/apitest"
)

func TestServer(t *testing.T) {
	kc, auth := apitest.New(t)
	apitest.CheckRoutes(t, kc, newServer(auth))
}
