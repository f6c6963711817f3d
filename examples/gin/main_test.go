package main

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/tokenwarden/tokenwarden/examples/internal/apitest"
)

func TestRouter(t *testing.T) {
	gin.SetMode(gin.TestMode)
	kc, auth := apitest.New(t)
	apitest.CheckRoutes(t, kc, newRouter(auth))
}
