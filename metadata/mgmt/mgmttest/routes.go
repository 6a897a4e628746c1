package mgmttest

import "net/http"

// routes is the tenant's route table. Paths with an id use wildcards, which ServeMux matches
// against the escaped path and unescapes: /api/v2/users/auth0%7C123 has id "auth0|123".
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.openIDConfiguration)

	mux.HandleFunc("GET /api/v2/users", s.listUsers)
	mux.HandleFunc("POST /api/v2/users", s.createUser)
	mux.HandleFunc("GET /api/v2/users/{id}", s.getUser)
	mux.HandleFunc("PATCH /api/v2/users/{id}", s.patchUser)
	mux.HandleFunc("DELETE /api/v2/users/{id}", s.deleteUser)

	mux.HandleFunc("POST /api/v2/jobs/users-exports", s.createExport)
	mux.HandleFunc("GET /api/v2/jobs/{id}", s.getJob)
	mux.HandleFunc("GET /exports/{job}/{file}", s.downloadExport)

	mux.HandleFunc("GET /api/v2/actions/actions", s.listActions)
	mux.HandleFunc("POST /api/v2/actions/actions", s.createAction)
	mux.HandleFunc("GET /api/v2/actions/actions/{id}", s.getAction)
	mux.HandleFunc("PATCH /api/v2/actions/actions/{id}", s.updateAction)
	mux.HandleFunc("DELETE /api/v2/actions/actions/{id}", s.deleteAction)
	mux.HandleFunc("POST /api/v2/actions/actions/{id}/deploy", s.deployAction)
	mux.HandleFunc("GET /api/v2/actions/actions/{id}/versions", s.listVersions)
	mux.HandleFunc("GET /api/v2/actions/actions/{id}/versions/{versionId}", s.getVersion)
	mux.HandleFunc("POST /api/v2/actions/actions/{id}/versions/{versionId}/deploy", s.deployVersion)
	mux.HandleFunc("GET /api/v2/actions/triggers", s.listTriggers)
	mux.HandleFunc("GET /api/v2/actions/triggers/{triggerId}/bindings", s.listBindings)
	mux.HandleFunc("PATCH /api/v2/actions/triggers/{triggerId}/bindings", s.updateBindings)

	mux.HandleFunc("/", notFound)
	return mux
}
