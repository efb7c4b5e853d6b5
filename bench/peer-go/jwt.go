// JWT RS256 (RFC 7519, RFC 7515 §5.2, RFC 7518 §3.3) with the standard
// library only: crypto/rsa PKCS #1 v1.5 over a crypto/sha256 digest. The
// checks are those of Streamer's handlers/jwt.c and the Node peer.
package main

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"time"
)

const leewaySeconds = 60

// parsePublicKey reads a PEM "PUBLIC KEY" (SPKI) or "RSA PUBLIC KEY".
func parsePublicKey(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("JWT_PUBLIC_KEY is not PEM")
	}
	if block.Type == "RSA PUBLIC KEY" {
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("JWT_PUBLIC_KEY is not an RSA key")
	}
	return rsaKey, nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
}

// Pointers tell "absent" from zero; a claim of the wrong JSON type fails
// json.Unmarshal and so the token.
type jwtClaims struct {
	Sub      *string  `json:"sub"`
	TenantID *string  `json:"tenant_id"`
	Exp      *float64 `json:"exp"`
	Nbf      *float64 `json:"nbf"`
	Iat      *float64 `json:"iat"`
}

type identity struct {
	userID, tenantID string
}

func b64urlJSON(part string, v interface{}) error {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func goodID(s *string) bool {
	return s != nil && len(*s) >= 1 && len(*s) <= 128
}

// verifyToken returns who the token names, or nil when it is not valid.
func verifyToken(key *rsa.PublicKey, token string) *identity {
	if key == nil || token == "" || len(token) > 8192 {
		return nil
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	var h jwtHeader
	if b64urlJSON(parts[0], &h) != nil || h.Alg != "RS256" {
		return nil
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) != nil {
		return nil
	}
	var c jwtClaims
	if b64urlJSON(parts[1], &c) != nil {
		return nil
	}
	now := float64(time.Now().Unix())
	if c.Exp == nil || now > *c.Exp+leewaySeconds {
		return nil
	}
	if c.Nbf != nil && now+leewaySeconds < *c.Nbf {
		return nil
	}
	if c.Iat != nil && *c.Iat > now+leewaySeconds {
		return nil
	}
	if !goodID(c.Sub) || !goodID(c.TenantID) {
		return nil
	}
	return &identity{userID: *c.Sub, tenantID: *c.TenantID}
}
