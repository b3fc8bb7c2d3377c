// Package suite only names the upstream conformance suite as a dependency of this module; the test binary is
// the suite's own package, built with `go test -c sigs.k8s.io/gateway-api/conformance`.
package suite

import _ "sigs.k8s.io/gateway-api/conformance"
