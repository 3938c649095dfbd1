# PKI helpers (openssl CLI only) shared by tests/cluster/up.sh and node-up.sh (sourced, not executed).
# They work on $PKI (the cluster's pki/ folder, holding ca.crt/ca.key) and, for kubeconfigs, $APISERVER_URL.

# ECDSA P-256 for TLS keys: generated in milliseconds, unlike RSA, and accepted by Go, curl and
# OpenSSL. The service-account signing key is RSA (RS256 tokens, the Kubernetes default).
gen_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

write_openssl_cnf() {
	cat >"$PKI/openssl.cnf" <<-'EOF'
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		CN = unused
		[v3_ca]
		basicConstraints = critical,CA:TRUE
		keyUsage = critical,keyCertSign,cRLSign,digitalSignature
		subjectKeyIdentifier = hash
	EOF
}

# issue <name> <subject> <serverAuth|clientAuth> [subjectAltName]: <name>.key/.crt signed by the CA.
issue() {
	local name=$1 subj=$2 usage=$3 san=${4:-}
	gen_ec_key "$PKI/$name.key"
	openssl req -new -config "$PKI/openssl.cnf" -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
	{
		echo "basicConstraints = critical,CA:FALSE"
		echo "keyUsage = critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage = $usage"
		echo "authorityKeyIdentifier = keyid"
		[ -z "$san" ] || echo "subjectAltName = $san"
	} >"$PKI/$name.ext"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -CAserial "$PKI/ca.srl" -days 365 -extfile "$PKI/$name.ext" \
		-out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

# write_kubeconfig <file> <cert name in pki/>: client-cert kubeconfig with embedded data, so it can be
# copied anywhere (and read by clients that do not resolve relative paths).
write_kubeconfig() {
	local file=$1 cert=$2
	cat >"$file" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: spin-operator-local
		  cluster:
		    server: $APISERVER_URL
		    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
		users:
		- name: $cert
		  user:
		    client-certificate-data: $(base64 -w0 <"$PKI/$cert.crt")
		    client-key-data: $(base64 -w0 <"$PKI/$cert.key")
		contexts:
		- name: spin-operator-local
		  context:
		    cluster: spin-operator-local
		    user: $cert
		current-context: spin-operator-local
	EOF
	chmod 600 "$file"
}
