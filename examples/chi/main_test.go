package main

import (
	"context"
	"testing"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/examples/internal/testtoken"
)

func TestRouter(t *testing.T) {
	s := testtoken.New(t)
	auth, err := adapter.New(context.Background(), adapter.Config{Verifier: s.Verifier})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	s.CheckRoutes(t, newRouter(auth), auth)
}
