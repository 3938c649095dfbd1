// Command tokenserver is a minimal Docker/OCI registry token server for the image-verification tests
// (distribution docs/content/spec/auth/token.md): GET <addr>/token?service=...&scope=... answers
// {"token": <JWT>, "access_token": <JWT>, "expires_in": N, "issued_at": ...}.
//
// The JWT is ES256, carries the signing certificate in its x5c header, and is accepted by the distribution
// registry configured with `auth: token: {rootcertbundle: <that certificate>, issuer, service, realm}`.
// Requests with Basic credentials equal to -user/-password are granted every action they ask for; anonymous
// requests (and wrong credentials, unless -reject-bad-credentials) get a token with no access, which the
// registry then answers with 401, as real token servers behave. Each request is logged on stdout as one line
// "token: <status> account=<user> scopes=<n> granted=<n>", so tests can count token requests.
//
// Standard library only, so it builds in seconds and needs no go.sum.
package main

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type server struct {
	key       *ecdsa.PrivateKey
	certDER   []byte
	issuer    string
	service   string
	user      string
	password  string
	ttl       time.Duration
	rejectBad bool
	requests  atomic.Int64
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// parseScope turns "repository:spin/app:pull,push" into an access entry (the name may contain ':' for a
// registry with a port in other scope types; split on the first and last colon as distribution does).
func parseScope(s string) (access, bool) {
	first := strings.Index(s, ":")
	last := strings.LastIndex(s, ":")
	if first < 0 || last <= first {
		return access{}, false
	}
	a := access{Type: s[:first], Name: s[first+1 : last]}
	for _, act := range strings.Split(s[last+1:], ",") {
		if act != "" {
			a.Actions = append(a.Actions, act)
		}
	}
	return a, true
}

func (s *server) sign(claims map[string]any) (string, error) {
	header := map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(s.certDER)}}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64url(h) + "." + b64url(c)
	sum := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + b64url(sig), nil
}

func (s *server) credentialsOK(r *http.Request) (string, bool) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	good := subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(s.password)) == 1
	return u, good
}

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	q := r.URL.Query()
	if svc := q.Get("service"); svc != "" && svc != s.service {
		log.Printf("token: 400 unknown service %q", svc)
		http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"unknown service"}]}`, http.StatusBadRequest)
		return
	}
	account, good := s.credentialsOK(r)
	_, _, sentCreds := r.BasicAuth()
	if sentCreds && !good && s.rejectBad {
		log.Printf("token: 401 account=%s bad credentials", account)
		w.Header().Set("WWW-Authenticate", `Basic realm="tokenserver"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
		return
	}
	granted := []access{}
	scopes := q["scope"]
	for _, sc := range scopes {
		for _, one := range strings.Fields(sc) {
			a, ok := parseScope(one)
			if ok && good {
				granted = append(granted, a)
			}
		}
	}
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	subject := ""
	if good {
		subject = account
	}
	tok, err := s.sign(map[string]any{
		"iss": s.issuer, "sub": subject, "aud": s.service,
		"exp": now.Add(s.ttl).Unix(), "nbf": now.Add(-10 * time.Second).Unix(), "iat": now.Unix(),
		"jti": b64url(jti), "access": granted,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok, "expires_in": int(s.ttl.Seconds()),
		"issued_at": now.UTC().Format(time.RFC3339),
	})
	log.Printf("token: 200 account=%q scopes=%d granted=%d", subject, len(scopes), len(granted))
}

func loadKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block in " + path)
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("the signing key must be ECDSA P-256")
	}
	return ek, nil
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

// newSigningCert makes the self-signed certificate that carries the token signing key; the registry's
// rootcertbundle is this certificate.
func newSigningCert(key *ecdsa.PrivateKey) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkixName("spin-operator test token signer"),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * 3650 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	tlsCert := flag.String("tls-cert", "", "serving certificate (PEM); plain HTTP without it")
	tlsKey := flag.String("tls-key", "", "serving key (PEM)")
	signKey := flag.String("signing-key", "", "ECDSA P-256 key (PEM) that signs the tokens")
	certOut := flag.String("signing-cert-out", "", "write the self-signed signing certificate here (the registry's rootcertbundle)")
	issuer := flag.String("issuer", "spin-operator-test-tokenserver", "iss claim")
	service := flag.String("service", "spin-operator-test-registry", "service (aud claim)")
	user := flag.String("user", "", "the one account")
	password := flag.String("password", "", "its password")
	ttl := flag.Duration("ttl", 300*time.Second, "token lifetime (expires_in)")
	rejectBad := flag.Bool("reject-bad-credentials", true, "answer 401 to wrong Basic credentials")
	portFile := flag.String("port-file", "", "write the port actually bound here once listening")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetOutput(os.Stdout)

	if *signKey == "" || *user == "" {
		log.Fatal("tokenserver: -signing-key and -user are required")
	}
	key, err := loadKey(*signKey)
	if err != nil {
		log.Fatalf("tokenserver: %v", err)
	}
	der, err := newSigningCert(key)
	if err != nil {
		log.Fatalf("tokenserver: %v", err)
	}
	if *certOut != "" {
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(*certOut+".tmp", pemBytes, 0o644); err != nil {
			log.Fatalf("tokenserver: %v", err)
		}
		if err := os.Rename(*certOut+".tmp", *certOut); err != nil {
			log.Fatalf("tokenserver: %v", err)
		}
	}
	s := &server{key: key, certDER: der, issuer: *issuer, service: *service, user: *user,
		password: *password, ttl: *ttl, rejectBad: *rejectBad}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("tokenserver: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.token)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %d\n", s.requests.Load())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if *tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			log.Fatalf("tokenserver: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	if *portFile != "" {
		if err := os.WriteFile(*portFile+".tmp", []byte(fmt.Sprintf("%d\n", port)), 0o644); err != nil {
			log.Fatalf("tokenserver: %v", err)
		}
		if err := os.Rename(*portFile+".tmp", *portFile); err != nil {
			log.Fatalf("tokenserver: %v", err)
		}
	}
	log.Printf("tokenserver: listening on %s (port %d)", ln.Addr(), port)
	if err := srv.Serve(ln); err != nil {
		log.Fatalf("tokenserver: %v", err)
	}
}
