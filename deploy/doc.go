// Package deploy holds rulehook's container image and Kubernetes manifests, and the tests that
// hold them to the code: deploy/Dockerfile, a kustomize base (deploy/base) and its overlays
// (deploy/overlays/dev with one Redis in the namespace, deploy/overlays/production with an
// external Redis Sentinel).
//
// The package has no Go API. Its tests render every overlay with sigs.k8s.io/kustomize/api,
// decode every object strictly into the k8s.io/api types, check the objects against the service's
// contract (routes, ports, required environment, selectors, shutdown timing, security settings),
// and build the binary with the Dockerfile's own command to prove it is static. Those heavy
// dependencies are imported by the tests of this package only; nothing else may import them.
package deploy
