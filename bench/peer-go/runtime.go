// The Lambda Runtime API loop of the Go peer, written with net/http the
// way aws-lambda-go's lambda.Start runs it (aws-lambda-go is not packaged
// in Debian, so the peer cannot import it): GET /next, run the handler
// with the invocation's deadline, POST the response or the error, and
// report a failed init on /runtime/init/error.
//
// Runtime API reference: "Using the Lambda runtime API for custom
// runtimes", https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
// (API version 2018-06-01).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

const runtimeAPIVersion = "2018-06-01"

// A handler takes the raw event and returns the value to answer with.
type handlerFunc func(ctx context.Context, event []byte) (interface{}, error)

type runtimeClient struct {
	base   string
	client *http.Client
}

func newRuntimeClient() (*runtimeClient, error) {
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		return nil, fmt.Errorf("AWS_LAMBDA_RUNTIME_API is not set")
	}
	// No timeout: /next blocks until the next event (aws-lambda-go does
	// the same).
	return &runtimeClient{
		base:   "http://" + api + "/" + runtimeAPIVersion + "/runtime",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
	}, nil
}

// errorBody is the Runtime API's error document.
type errorBody struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func (r *runtimeClient) post(path string, body []byte, errType string) error {
	req, err := http.NewRequest(http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if errType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errType)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s: HTTP %d", path, resp.StatusCode)
	}
	return nil
}

func errorDocument(errType string, err error) []byte {
	b, _ := json.Marshal(errorBody{ErrorType: errType, ErrorMessage: err.Error()})
	return b
}

// initError reports a failed init and exits, as Lambda expects.
func (r *runtimeClient) initError(err error) {
	log.Printf("init failed: %v", err)
	_ = r.post("/init/error", errorDocument("Runtime.InitError", err), "Runtime.InitError")
	os.Exit(1)
}

// invoke runs the handler on one event, turning a panic into an error as
// aws-lambda-go does.
func invoke(ctx context.Context, h handlerFunc, event []byte) (out interface{}, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h(ctx, event)
}

// serve runs the loop until the Runtime API refuses /next.
func (r *runtimeClient) serve(h handlerFunc) error {
	for {
		resp, err := r.client.Get(r.base + "/invocation/next")
		if err != nil {
			return err
		}
		event, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /next: HTTP %d", resp.StatusCode)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		if trace := resp.Header.Get("Lambda-Runtime-Trace-Id"); trace != "" {
			os.Setenv("_X_AMZN_TRACE_ID", trace)
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if ms, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64); err == nil {
			ctx, cancel = context.WithDeadline(ctx, time.UnixMilli(ms))
		}
		out, herr := invoke(ctx, h, event)
		cancel()
		path := "/invocation/" + id
		if herr != nil {
			err = r.post(path+"/error", errorDocument("Runtime.HandlerError", herr), "Runtime.HandlerError")
		} else {
			body, merr := json.Marshal(out)
			if merr != nil {
				err = r.post(path+"/error", errorDocument("Runtime.MarshalError", merr), "Runtime.MarshalError")
			} else {
				err = r.post(path+"/response", body, "")
			}
		}
		if err != nil {
			return err
		}
	}
}
