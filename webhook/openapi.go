package webhook

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// routeOpenAPI serves openapi.yaml, the machine-readable form of the HTTP contract.
const routeOpenAPI = "/openapi.yaml"

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document (YAML) that describes every route, body, answer and
// error of the edge; GET /openapi.yaml serves the same bytes. The caller must not modify them.
func OpenAPI() []byte { return openAPI }

func (s *Server) openAPIDoc(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openAPI)
}
