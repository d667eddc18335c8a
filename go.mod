module github.com/mtlskit/mtlskit

go 1.26.8

require github.com/youmark/pkcs8 v0.0.0-20240726163527-a2c0da244d78

require golang.org/x/crypto v0.55.0 // indirect
