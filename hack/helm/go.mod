// Module mode (a machine with a Go module proxy): `go mod tidy && go build`.
// Offline here, render.sh builds in GOPATH mode against Debian's copies in /usr/share/gocode
// (golang-github-masterminds-sprig-dev 3.2.3 and its dependencies, gopkg.in/yaml.v3).
module github.com/parallax-ai/parallax/hack/helm

go 1.19

require (
	github.com/Masterminds/sprig/v3 v3.2.3
	gopkg.in/yaml.v3 v3.0.1
)
