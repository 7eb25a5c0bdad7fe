package registry

import (
	"fmt"
	"net/http"
)

// Error is a registry error as the Confluent REST API reports it: an HTTP
// status and a body {"error_code": Code, "message": Message}. Code is the
// Confluent error code; the HTTP status is derived from it as Confluent does
// (40401 → 404, 42201 → 422, 50001 → 500, 409 → 409).
type Error struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("registry error %d: %s", e.Code, e.Message) }

// Status is the HTTP status that carries the error.
func (e *Error) Status() int {
	switch {
	case e.Code >= 10000:
		return e.Code / 100
	case e.Code >= 100 && e.Code < 600:
		return e.Code
	default:
		return http.StatusInternalServerError
	}
}

// The Confluent error codes, with their messages as Confluent words them.
const (
	CodeSubjectNotFound            = 40401
	CodeVersionNotFound            = 40402
	CodeSchemaNotFound             = 40403
	CodeSubjectSoftDeleted         = 40404
	CodeSubjectNotSoftDeleted      = 40405
	CodeVersionSoftDeleted         = 40406
	CodeVersionNotSoftDeleted      = 40407
	CodeSubjectCompatNotConfigured = 40408
	CodeSubjectModeNotConfigured   = 40409
	CodeIncompatibleSchema         = 409
	CodeInvalidSchema              = 42201
	CodeInvalidVersion             = 42202
	CodeInvalidCompatibility       = 42203
	CodeInvalidMode                = 42204
	CodeOperationNotPermitted      = 42205
	CodeReferenceExists            = 42206
	CodeSchemaTooLarge             = 42209
	CodeStoreError                 = 50001
	CodeOperationTimeout           = 50002
	CodeForwardingError            = 50003
)

func errf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func errSubjectNotFound(subject string) *Error {
	return errf(CodeSubjectNotFound, "Subject '%s' not found.", subject)
}

func errVersionNotFound(version int) *Error {
	return errf(CodeVersionNotFound, "Version %d not found.", version)
}

func errSchemaNotFound() *Error { return errf(CodeSchemaNotFound, "Schema not found") }

func errInvalidVersion(v string) *Error {
	return errf(CodeInvalidVersion, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
}

func errReadOnly(subject string) *Error {
	if subject == "" {
		return errf(CodeOperationNotPermitted, "The schema registry is in read-only mode; set the mode to READWRITE (PUT /mode) to make changes")
	}
	return errf(CodeOperationNotPermitted, "Subject %s is in read-only mode", subject)
}
