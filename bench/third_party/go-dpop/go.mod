module github.com/AxisCommunications/go-dpop

go 1.20

require github.com/golang-jwt/jwt/v5 v5.2.1
