package mgmttest

import (
	"encoding/json"
	"net/http"
)

// writeJSON answers status with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError answers with the Management API's error shape:
// {"statusCode":400,"error":"Bad Request","message":"...","errorCode":"invalid_body"}.
func apiError(w http.ResponseWriter, status int, code, message string) {
	body := map[string]any{
		"statusCode": status,
		"error":      http.StatusText(status),
		"message":    message,
	}
	if code != "" {
		body["errorCode"] = code
	}
	writeJSON(w, status, body)
}

// invalidBody is the 400 Auth0 gives for a payload that fails validation.
func invalidBody(w http.ResponseWriter, message string) {
	apiError(w, http.StatusBadRequest, "invalid_body", message)
}

// oauthError answers with the Authentication API's error shape: {"error":..., "error_description":...}.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// notFound answers unknown routes the way Auth0 does.
func notFound(w http.ResponseWriter, _ *http.Request) {
	apiError(w, http.StatusNotFound, "", "Not Found")
}
