package main

import (
	"testing"

	"github.com/tokenwarden/tokenwarden/examples/internal/apitest"
)

func TestRouter(t *testing.T) {
	kc, auth := apitest.New(t)
	apitest.CheckRoutes(t, kc, newRouter(auth))
}
