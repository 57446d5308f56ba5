package harbor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Operation names used in errors.
const (
	OpMetadata = "metadata"
	OpScan     = "scan"
	OpReport   = "report"
)

// Causes an *Error may wrap; test with errors.Is.
var (
	// ErrUnknownScan: the adapter does not know the scan id (404).
	ErrUnknownScan = errors.New("unknown scan id")
	// ErrScanFailed: the adapter reports the scan failed (500 on report).
	ErrScanFailed = errors.New("scan failed")
	// ErrNotFinished: the report was still not ready at the deadline.
	ErrNotFinished = errors.New("adapter did not finish")
	// ErrUnsupported: the adapter cannot handle the artifact or report
	// type (501).
	ErrUnsupported = errors.New("adapter cannot handle this request")
	// ErrTooLarge: a response body went past its bound.
	ErrTooLarge = errors.New("response body too large")

	errNullBody = errors.New("response body is JSON null, not an object")
)

// maxMessage bounds how much of an adapter's error message is kept.
const maxMessage = 512

// Error is a failed adapter operation.
type Error struct {
	Op      string // OpMetadata, OpScan or OpReport
	Status  int    // HTTP status; 0 when there was no response
	Message string // the adapter's error message, if it sent one
	Err     error  // the cause, if any (one of the Err… values, a transport or decoding error)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("harbor adapter ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" ")
			b.WriteString(t)
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.Message))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errorBody is the API's ErrorResponse.
type errorBody struct {
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// statusError reads (bounded) and closes resp's body and returns an *Error
// for op carrying cause and the adapter's message: the JSON error message
// when the body is an ErrorResponse, else the start of the body as text.
func statusError(op string, resp *http.Response, cause error) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return &Error{Op: op, Status: resp.StatusCode, Message: adapterMessage(body), Err: cause}
}

func adapterMessage(body []byte) string {
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error != nil {
		return clip(strings.TrimSpace(eb.Error.Message))
	}
	return clip(strings.TrimSpace(string(body)))
}

// clip cuts s to maxMessage bytes on a rune boundary.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	i := maxMessage
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
