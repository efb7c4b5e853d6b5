// The Go peer of Streamer, for `make bench`: Go with the AWS SDK for Go v2
// (Debian's golang-github-aws-aws-sdk-go-v2-dev), the stack of the system
// Streamer descends from.
//
// Written the way a Go Lambda function with the SDK v2 is written:
// clients made once at init from config.LoadDefaultConfig, items as
// structs with dynamodbav tags (attributevalue.MarshalMap), one handler
// dispatching on the event's shape, as Streamer's single function does.
// Each event does the same store work as Streamer's handler for it and as
// bench/peer/index.mjs, call for call (bench/results.md, "Method"): the
// point is to compare the runtimes, not the amount of work.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	mgmttypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	connTTLSeconds = 24 * 3600
	reqTTLSeconds  = 7 * 24 * 3600
	pushInterval   = 200 * time.Millisecond
)

var (
	idRE     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	actionRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// The function's state, made once at init.
type peer struct {
	cfg                aws.Config
	ddb                *dynamodb.Client
	publicKey          *rsa.PublicKey
	connectionsTable   string
	requestsTable      string
	subscriptionsTable string
	websocketEndpoint  string
	mgmtMu             sync.Mutex // notify's pushes run concurrently
	mgmtClients        map[string]*apigatewaymanagementapi.Client
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

func ttl(seconds int64) int64 { return time.Now().Unix() + seconds }

func newPeer(ctx context.Context) (*peer, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	p := &peer{
		cfg:                cfg,
		connectionsTable:   envOr("CONNECTIONS_TABLE", "streamer_connections"),
		requestsTable:      envOr("REQUESTS_TABLE", "streamer_requests"),
		subscriptionsTable: envOr("SUBSCRIPTIONS_TABLE", "streamer_subscriptions"),
		websocketEndpoint:  os.Getenv("WEBSOCKET_ENDPOINT"),
		mgmtClients:        map[string]*apigatewaymanagementapi.Client{},
	}
	// SDK 1.17 does not read AWS_ENDPOINT_URL_DYNAMODB itself (the
	// service endpoint variables came later), so the peer does, as the
	// Node peer does.
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	p.ddb = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.EndpointResolver = dynamodb.EndpointResolverFromURL(endpoint)
		}
	})
	if pem := os.Getenv("JWT_PUBLIC_KEY"); pem != "" {
		if p.publicKey, err = parsePublicKey(pem); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ---- The events, as the Lambda service sends them.

type requestContext struct {
	RouteKey     string `json:"routeKey"`
	ConnectionID string `json:"connectionId"`
	DomainName   string `json:"domainName"`
	Stage        string `json:"stage"`
	ConnectedAt  int64  `json:"connectedAt"`
	Identity     struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"identity"`
}

type streamRecord struct {
	EventName string `json:"eventName"`
	DynamoDB  *struct {
		NewImage       map[string]json.RawMessage `json:"NewImage"`
		SequenceNumber string                     `json:"SequenceNumber"`
	} `json:"dynamodb"`
}

type lambdaEvent struct {
	Records               []streamRecord    `json:"Records"`
	RequestContext        requestContext    `json:"requestContext"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	Headers               map[string]string `json:"headers"`
	Body                  string            `json:"body"`
}

type routeResponse struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body,omitempty"`
}

// ---- The items, as the three tables hold them (docs/data-model.md).

type connectionItem struct {
	PK           string            `dynamodbav:"pk"`
	SK           string            `dynamodbav:"sk"`
	ConnectionID string            `dynamodbav:"connection_id"`
	UserID       string            `dynamodbav:"user_id"`
	TenantID     string            `dynamodbav:"tenant_id"`
	Endpoint     string            `dynamodbav:"endpoint"`
	ConnectedAt  string            `dynamodbav:"connected_at"`
	LastPing     string            `dynamodbav:"last_ping"`
	Metadata     map[string]string `dynamodbav:"metadata"`
	CreatedAt    string            `dynamodbav:"created_at"`
	UpdatedAt    string            `dynamodbav:"updated_at"`
	Version      int64             `dynamodbav:"version"`
	TTL          int64             `dynamodbav:"ttl"`
}

type requestItem struct {
	PK           string                 `dynamodbav:"pk"`
	SK           string                 `dynamodbav:"sk"`
	RequestID    string                 `dynamodbav:"request_id"`
	ConnectionID string                 `dynamodbav:"connection_id"`
	UserID       string                 `dynamodbav:"user_id"`
	TenantID     string                 `dynamodbav:"tenant_id"`
	Action       string                 `dynamodbav:"action"`
	Payload      map[string]interface{} `dynamodbav:"payload"`
	Status       string                 `dynamodbav:"status"`
	Progress     int64                  `dynamodbav:"progress"`
	RetryCount   int64                  `dynamodbav:"retry_count"`
	MaxRetries   int64                  `dynamodbav:"max_retries"`
	CreatedAt    string                 `dynamodbav:"created_at"`
	UpdatedAt    string                 `dynamodbav:"updated_at"`
	Version      int64                  `dynamodbav:"version"`
	TTL          int64                  `dynamodbav:"ttl"`
}

type subscriptionItem struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	SubscriptionID string   `dynamodbav:"subscription_id"`
	ConnectionID   string   `dynamodbav:"connection_id"`
	RequestID      string   `dynamodbav:"request_id"`
	TenantID       string   `dynamodbav:"tenant_id"`
	UserID         string   `dynamodbav:"user_id"`
	RequestKey     string   `dynamodbav:"request_key"`
	EventTypes     []string `dynamodbav:"event_types,stringset"`
	CreatedAt      string   `dynamodbav:"created_at"`
	UpdatedAt      string   `dynamodbav:"updated_at"`
	Version        int64    `dynamodbav:"version"`
	TTL            int64    `dynamodbav:"ttl"`
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// isDuplicate tells whether a TransactWriteItems was cancelled because
// its first item's condition (the request's attribute_not_exists(pk))
// failed: DynamoDB API Reference, TransactWriteItems,
// "TransactionCanceledException" (one CancellationReason per item, in
// order, Code "ConditionalCheckFailed" or "None").
func isDuplicate(err error) bool {
	var tce *types.TransactionCanceledException
	return errors.As(err, &tce) && len(tce.CancellationReasons) > 0 &&
		aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed"
}

// Request ids are unique per user: "<tenant>#<user>#<id>", '%' and '#'
// escaped in the tenant and user (Streamer's store_request_key, the Node
// peer's requestKey).
var keyEscaper = strings.NewReplacer("%", "%25", "#", "%23")

func requestKey(tenantID, userID, requestID string) string {
	return keyEscaper.Replace(tenantID) + "#" + keyEscaper.Replace(userID) + "#" + requestID
}

func connectionKey(connectionID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "CONN#" + connectionID},
		"sk": &types.AttributeValueMemberS{Value: "METADATA"},
	}
}

// ---- $connect: verify the token, PutItem the connection.

func (p *peer) onConnect(ctx context.Context, ev *lambdaEvent) (interface{}, error) {
	token := ev.QueryStringParameters["Authorization"]
	if token == "" {
		token = ev.QueryStringParameters["token"]
	}
	if auth := ev.Headers["Authorization"]; token == "" && len(auth) > 7 &&
		strings.EqualFold(auth[:7], "Bearer ") {
		token = auth[7:]
	}
	who := verifyToken(p.publicKey, token)
	if who == nil {
		body, _ := json.Marshal(map[string]string{"error": "Unauthorized", "code": "UNAUTHORIZED"})
		return routeResponse{StatusCode: 401, Body: string(body)}, nil
	}
	rc := &ev.RequestContext
	at := now()
	connectedAt := at
	if rc.ConnectedAt != 0 {
		connectedAt = time.UnixMilli(rc.ConnectedAt).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	metadata := map[string]string{}
	if ua := ev.Headers["User-Agent"]; ua != "" {
		metadata["user_agent"] = ua
	} else if rc.Identity.UserAgent != "" {
		metadata["user_agent"] = rc.Identity.UserAgent
	}
	if rc.Identity.SourceIP != "" {
		metadata["source_ip"] = rc.Identity.SourceIP
	}
	item, err := attributevalue.MarshalMap(connectionItem{
		PK: "CONN#" + rc.ConnectionID, SK: "METADATA",
		ConnectionID: rc.ConnectionID, UserID: who.userID, TenantID: who.tenantID,
		Endpoint:    rc.DomainName + "/" + rc.Stage,
		ConnectedAt: connectedAt, LastPing: at, Metadata: metadata,
		CreatedAt: at, UpdatedAt: at, Version: 1, TTL: ttl(connTTLSeconds),
	})
	if err == nil {
		_, err = p.ddb.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(p.connectionsTable),
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
	}
	if err != nil {
		log.Printf("ERROR saving the connection failed: %v", err)
		return routeResponse{StatusCode: 500}, nil
	}
	return routeResponse{StatusCode: 200}, nil
}

// ---- $default: parse, look up the sender, echo or enqueue.

type errorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type reply struct {
	Type      string      `json:"type"`
	RequestID string      `json:"request_id,omitempty"`
	Success   *bool       `json:"success,omitempty"`
	Data      interface{} `json:"data,omitempty"`
	Status    string      `json:"status,omitempty"`
	Error     *errorInfo  `json:"error,omitempty"`
}

func errorReply(id, code, message string) *reply {
	return &reply{Type: "error", RequestID: id, Error: &errorInfo{code, message}}
}

// newUUID is a random (version 4) UUID, RFC 4122 §4.4.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func validateProcessData(payload map[string]interface{}) string {
	items, ok := payload["items"].([]interface{})
	if !ok || len(items) == 0 {
		return "payload.items must be a non-empty array"
	}
	for _, v := range items {
		if _, ok := v.(float64); !ok { // JSON numbers are finite
			return "payload.items holds something that is not a finite number"
		}
	}
	return ""
}

func (p *peer) route(ctx context.Context, ev *lambdaEvent) (*reply, error) {
	var msg map[string]interface{}
	if json.Unmarshal([]byte(ev.Body), &msg) != nil || msg == nil {
		return errorReply("", "INVALID_MESSAGE", "message must be a JSON object"), nil
	}
	id, hasID := msg["id"]
	idText, _ := id.(string)
	if hasID && (id == nil || !idRE.MatchString(idText)) {
		return errorReply("", "VALIDATION_ERROR", "id must be 1-128 of A-Z a-z 0-9 . _ : -"), nil
	}
	action, _ := msg["action"].(string)
	if !actionRE.MatchString(action) {
		return errorReply(idText, "INVALID_ACTION", "action must be 1-64 of A-Z a-z 0-9 . _ -"), nil
	}
	payload := map[string]interface{}{}
	if raw, ok := msg["payload"]; ok {
		if payload, ok = raw.(map[string]interface{}); !ok {
			return errorReply(idText, "VALIDATION_ERROR", "payload must be an object"), nil
		}
	}
	requestID := idText
	if requestID == "" {
		requestID = newUUID()
	}
	connectionID := ev.RequestContext.ConnectionID
	got, err := p.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(p.connectionsTable),
		Key:            connectionKey(connectionID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if got.Item == nil {
		return errorReply(idText, "UNAUTHORIZED", "connection is not registered"), nil
	}
	var conn connectionItem
	if err := attributevalue.UnmarshalMap(got.Item, &conn); err != nil {
		return nil, err
	}
	if action == "echo" {
		ok := true
		return &reply{Type: "response", RequestID: requestID, Success: &ok, Data: payload}, nil
	}
	if action != "process_data" {
		return errorReply(idText, "INVALID_ACTION", "unknown action"), nil
	}
	if invalid := validateProcessData(payload); invalid != "" {
		return errorReply(idText, "VALIDATION_ERROR", invalid), nil
	}
	at := now()
	key := requestKey(conn.TenantID, conn.UserID, requestID)
	item, err := attributevalue.MarshalMap(requestItem{
		PK: "REQ#" + key, SK: "METADATA", RequestID: requestID,
		ConnectionID: connectionID, UserID: conn.UserID, TenantID: conn.TenantID,
		Action: action, Payload: payload, Status: "PENDING", MaxRetries: 3,
		CreatedAt: at, UpdatedAt: at, Version: 1, TTL: ttl(reqTTLSeconds),
	})
	if err != nil {
		return nil, err
	}
	sub, err := attributevalue.MarshalMap(subscriptionItem{
		PK: "CONN#" + connectionID, SK: "SUB#" + key,
		SubscriptionID: connectionID + "#" + key,
		ConnectionID:   connectionID, RequestID: requestID,
		TenantID: conn.TenantID, UserID: conn.UserID, RequestKey: key,
		EventTypes: []string{"progress", "complete", "error"},
		CreatedAt:  at, UpdatedAt: at, Version: 1, TTL: ttl(connTTLSeconds),
	})
	if err != nil {
		return nil, err
	}
	// The request and the sender's subscription: one transaction, made
	// idempotent by its ClientRequestToken (DynamoDB API Reference,
	// TransactWriteItems).
	_, err = p.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:           aws.String(p.requestsTable),
				Item:                item,
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}},
			{Put: &types.Put{
				TableName: aws.String(p.subscriptionsTable),
				Item:      sub,
			}},
		},
		ClientRequestToken: aws.String(newUUID()),
	})
	if isDuplicate(err) {
		return errorReply(idText, "DUPLICATE_REQUEST", "a request with this id exists"), nil
	} else if err != nil {
		return nil, err
	}
	return &reply{Type: "acknowledgment", RequestID: requestID, Status: "queued"}, nil
}

func (p *peer) onMessage(ctx context.Context, ev *lambdaEvent) (interface{}, error) {
	r, err := p.route(ctx, ev)
	if err != nil {
		log.Printf("ERROR store call failed: %v", err)
		r = errorReply("", "INTERNAL_ERROR", "internal error")
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return routeResponse{StatusCode: 200, Body: string(body)}, nil
}

// ---- Stream records: claim, run process_data with progress, complete.

// The queued request as the stream image holds it.
type queuedRequest struct {
	RequestID string `dynamodbav:"request_id"`
	TenantID  string `dynamodbav:"tenant_id"`
	UserID    string `dynamodbav:"user_id"`
	Status    string `dynamodbav:"status"`
	Version   int64  `dynamodbav:"version"`
	Payload   struct {
		Items []float64 `dynamodbav:"items"`
	} `dynamodbav:"payload"`
}

type job struct {
	req       queuedRequest
	key       string // requestKey of req
	mu        sync.Mutex
	endpoints map[string]string // connection id → endpoint
	lastPush  time.Time
}

func (p *peer) mgmtFor(endpoint string) *apigatewaymanagementapi.Client {
	url := p.websocketEndpoint
	if url == "" {
		url = "https://" + endpoint
	}
	p.mgmtMu.Lock()
	defer p.mgmtMu.Unlock()
	c := p.mgmtClients[url]
	if c == nil {
		c = apigatewaymanagementapi.NewFromConfig(p.cfg, func(o *apigatewaymanagementapi.Options) {
			o.EndpointResolver = apigatewaymanagementapi.EndpointResolverFromURL(url)
		})
		p.mgmtClients[url] = c
	}
	return c
}

// transition is one conditional UpdateItem: status, updated_at, version
// and the extra SET clauses in `set`.
func (p *peer) transition(ctx context.Context, j *job, to, set string,
	values map[string]types.AttributeValue, names map[string]string) error {
	expr := "SET #status = :to, updated_at = :now, version = version + :one"
	if set != "" {
		expr += ", " + set
	}
	allNames := map[string]string{"#status": "status"}
	for k, v := range names {
		allNames[k] = v
	}
	allValues := map[string]types.AttributeValue{
		":from": &types.AttributeValueMemberS{Value: j.req.Status},
		":to":   &types.AttributeValueMemberS{Value: to},
		":v":    &types.AttributeValueMemberN{Value: fmt.Sprint(j.req.Version)},
		":one":  &types.AttributeValueMemberN{Value: "1"},
		":now":  &types.AttributeValueMemberS{Value: now()},
	}
	for k, v := range values {
		allValues[k] = v
	}
	// ReturnValuesOnConditionCheckFailure, which the Node peer sets, is
	// not in this SDK's UpdateItemInput (service/dynamodb 1.17.3).
	_, err := p.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(p.requestsTable),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "REQ#" + j.key},
			"sk": &types.AttributeValueMemberS{Value: "METADATA"},
		},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#status = :from AND version = :v"),
		ExpressionAttributeNames:  allNames,
		ExpressionAttributeValues: allValues,
	})
	if err != nil {
		return err
	}
	j.req.Status = to
	j.req.Version++
	return nil
}

// notify reloads the subscribers, then pushes `message` to those of
// `kind`, all at once (a goroutine each, as the Node peer's Promise.all):
// each subscriber's connection is read and posted to concurrently.
func (p *peer) notify(ctx context.Context, j *job, kind string, message interface{}) error {
	out, err := p.ddb.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(p.subscriptionsTable),
		IndexName:              aws.String("request-index"),
		KeyConditionExpression: aws.String("request_key = :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":r": &types.AttributeValueMemberS{Value: j.key},
		},
	})
	if err != nil {
		return err
	}
	var subs []subscriptionItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &subs); err != nil {
		return err
	}
	data, err := json.Marshal(message)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(subs))
	for i := range subs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = p.push(ctx, j, &subs[i], kind, data)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// push posts `data` to one subscriber when it wants `kind`, reading its
// connection's endpoint first unless the job already has it.
func (p *peer) push(ctx context.Context, j *job, sub *subscriptionItem, kind string, data []byte) error {
	wanted := false
	for _, t := range sub.EventTypes {
		wanted = wanted || t == kind
	}
	if !wanted {
		return nil
	}
	j.mu.Lock()
	endpoint, known := j.endpoints[sub.ConnectionID]
	j.mu.Unlock()
	if !known {
		got, err := p.ddb.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(p.connectionsTable),
			Key:            connectionKey(sub.ConnectionID),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return err
		}
		if got.Item == nil {
			return nil
		}
		var conn connectionItem
		if err := attributevalue.UnmarshalMap(got.Item, &conn); err != nil {
			return err
		}
		endpoint = conn.Endpoint
		j.mu.Lock()
		j.endpoints[sub.ConnectionID] = endpoint
		j.mu.Unlock()
	}
	_, err := p.mgmtFor(endpoint).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(sub.ConnectionID),
		Data:         data,
	})
	var gone *mgmttypes.GoneException
	if err != nil && !errors.As(err, &gone) {
		log.Printf("WARN push failed: %v", err)
	}
	return nil
}

type progressMessage struct {
	Type       string `json:"type"`
	RequestID  string `json:"request_id"`
	Percentage int64  `json:"percentage"`
	Message    string `json:"message"`
	Timestamp  string `json:"timestamp"`
}

type processResult struct {
	Count int     `json:"count" dynamodbav:"count"`
	Sum   float64 `json:"sum" dynamodbav:"sum"`
	Min   float64 `json:"min" dynamodbav:"min"`
	Max   float64 `json:"max" dynamodbav:"max"`
	Mean  float64 `json:"mean" dynamodbav:"mean"`
}

type completeMessage struct {
	Type      string        `json:"type"`
	RequestID string        `json:"request_id"`
	Result    processResult `json:"result"`
	Timestamp string        `json:"timestamp"`
}

func (p *peer) runProcessData(ctx context.Context, j *job) (processResult, error) {
	items := j.req.Payload.Items
	n := len(items)
	chunk := n / 10
	if chunk < 1 {
		chunk = 1
	}
	var sum, lo, hi float64
	for done, x := range items {
		if done == 0 || x < lo {
			lo = x
		}
		if done == 0 || x > hi {
			hi = x
		}
		sum += x
		done++
		if done%chunk != 0 && done != n {
			continue
		}
		percentage := int64(done * 100 / n)
		message := fmt.Sprintf("processed %d of %d items", done, n)
		err := p.transition(ctx, j, "PROCESSING",
			"progress = :p, progress_message = :m, progress_details = :d",
			map[string]types.AttributeValue{
				":p": &types.AttributeValueMemberN{Value: fmt.Sprint(percentage)},
				":m": &types.AttributeValueMemberS{Value: message},
				":d": &types.AttributeValueMemberNULL{Value: true},
			}, nil)
		if err != nil {
			return processResult{}, err
		}
		t := time.Now()
		if percentage == 100 || j.lastPush.IsZero() || t.Sub(j.lastPush) >= pushInterval {
			j.lastPush = t
			err := p.notify(ctx, j, "progress", progressMessage{
				Type: "progress", RequestID: j.req.RequestID, Percentage: percentage,
				Message: message, Timestamp: t.UTC().Format("2006-01-02T15:04:05.000Z"),
			})
			if err != nil {
				return processResult{}, err
			}
		}
	}
	if n == 0 {
		return processResult{}, errors.New("payload.items is empty")
	}
	return processResult{Count: n, Sum: sum, Min: lo, Max: hi, Mean: sum / float64(n)}, nil
}

func (p *peer) processRecord(ctx context.Context, rec *streamRecord) error {
	if (rec.EventName != "INSERT" && rec.EventName != "MODIFY") ||
		rec.DynamoDB == nil || rec.DynamoDB.NewImage == nil {
		return nil
	}
	image, err := imageToItem(rec.DynamoDB.NewImage)
	if err != nil {
		return err
	}
	j := &job{endpoints: map[string]string{}}
	if err := attributevalue.UnmarshalMap(image, &j.req); err != nil {
		return err
	}
	if j.req.Status != "PENDING" {
		return nil
	}
	j.key = requestKey(j.req.TenantID, j.req.UserID, j.req.RequestID)
	err = p.transition(ctx, j, "PROCESSING", "processing_started = :now", nil, nil)
	if isConditionFailed(err) {
		return nil // claimed elsewhere
	} else if err != nil {
		return err
	}
	result, err := p.runProcessData(ctx, j)
	if err != nil {
		return err
	}
	stored, err := attributevalue.Marshal(result)
	if err != nil {
		return err
	}
	err = p.transition(ctx, j, "COMPLETED",
		"#result = :r, progress = :hundred, processing_ended = :now",
		map[string]types.AttributeValue{
			":r":       stored,
			":hundred": &types.AttributeValueMemberN{Value: "100"},
		}, map[string]string{"#result": "result"})
	if err != nil {
		return err
	}
	return p.notify(ctx, j, "complete", completeMessage{
		Type: "complete", RequestID: j.req.RequestID, Result: result, Timestamp: now(),
	})
}

type batchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

type batchResponse struct {
	BatchItemFailures []batchItemFailure `json:"batchItemFailures"`
}

func (p *peer) onStream(ctx context.Context, ev *lambdaEvent) (interface{}, error) {
	out := batchResponse{BatchItemFailures: []batchItemFailure{}}
	for i := range ev.Records {
		rec := &ev.Records[i]
		if err := p.processRecord(ctx, rec); err != nil {
			log.Printf("WARN stream record failed; Lambda will retry it: %v", err)
			seq := ""
			if rec.DynamoDB != nil {
				seq = rec.DynamoDB.SequenceNumber
			}
			out.BatchItemFailures = append(out.BatchItemFailures, batchItemFailure{seq})
		}
	}
	return out, nil
}

// ---- One function, dispatching on the event's shape, like Streamer's.

func (p *peer) handle(ctx context.Context, raw []byte) (interface{}, error) {
	var ev lambdaEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if ev.Records != nil {
		return p.onStream(ctx, &ev)
	}
	switch ev.RequestContext.RouteKey {
	case "$connect":
		return p.onConnect(ctx, &ev)
	case "$disconnect":
		return routeResponse{StatusCode: 200}, nil
	default:
		return p.onMessage(ctx, &ev)
	}
}

func main() {
	log.SetFlags(0) // Lambda stamps each line itself
	rt, err := newRuntimeClient()
	if err != nil {
		log.Fatal(err)
	}
	p, err := newPeer(context.Background())
	if err != nil {
		rt.initError(err)
	}
	if err := rt.serve(p.handle); err != nil {
		log.Printf("runtime loop ended: %v", err)
		os.Exit(1)
	}
}
