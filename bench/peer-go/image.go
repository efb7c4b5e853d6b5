// A DynamoDB Streams record's image, as Lambda delivers it (DynamoDB's
// JSON: {"S": "..."}, {"N": "1"}, {"M": {...}} ...), turned into the SDK's
// AttributeValues so that attributevalue.UnmarshalMap can read it. This
// is what aws-lambda-go's events.DynamoDBAttributeValue does; that module
// is not packaged in Debian. Data types: DynamoDB Developer Guide,
// "AttributeValue" (API reference).
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func imageToItem(image map[string]json.RawMessage) (map[string]types.AttributeValue, error) {
	item := make(map[string]types.AttributeValue, len(image))
	for name, raw := range image {
		v, err := attributeFromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		item[name] = v
	}
	return item, nil
}

func attributeFromJSON(raw json.RawMessage) (types.AttributeValue, error) {
	var typed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &typed); err != nil {
		return nil, err
	}
	if len(typed) != 1 {
		return nil, fmt.Errorf("an attribute value has exactly one type, not %d", len(typed))
	}
	for t, v := range typed {
		switch t {
		case "S":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberS{Value: s}, err
		case "N":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberN{Value: s}, err
		case "B":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			b, err := base64.StdEncoding.DecodeString(s)
			return &types.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberNULL{Value: b}, err
		case "SS", "NS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			if t == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}, nil
			}
			return &types.AttributeValueMemberNS{Value: ss}, nil
		case "BS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			bs := make([][]byte, len(ss))
			for i, s := range ss {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, err
				}
				bs[i] = b
			}
			return &types.AttributeValueMemberBS{Value: bs}, nil
		case "L":
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(list))
			for i, e := range list {
				a, err := attributeFromJSON(e)
				if err != nil {
					return nil, err
				}
				out[i] = a
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "M":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, err
			}
			item, err := imageToItem(m)
			return &types.AttributeValueMemberM{Value: item}, err
		default:
			return nil, fmt.Errorf("unknown attribute type %q", t)
		}
	}
	return nil, nil // not reached
}
