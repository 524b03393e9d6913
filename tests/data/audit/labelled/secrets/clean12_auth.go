package auth

import "os"

func Token() string {
	token := os.Getenv("SERVICE_TOKEN")
	if token == "" {
		panic("SERVICE_TOKEN is not set")
	}
	return token
}
