# Extracts field markers from a Go API types file (k8s.io/api core/v1 or apimachinery meta/v1).
#
# Only doc-comment markers of struct fields are read: controller-gen honours them when it inlines these
# types into a CRD, while the published OpenAPI spec either encodes them differently (+default=ref(...)),
# adds zero-value defaults of its own (non-omitempty fields), or drops them (+kubebuilder:validation:*).
#
# Output, one record a line, tab-separated:
#   F <type> <json field> <marker> <raw value>     marker: default | kubebuilder:default | kubebuilder:validation:<X>
#   E <type> <embedded type>                         a struct embedded with json:",inline"
# Set -v pkg=<prefix> to prefix type names (e.g. io.k8s.api.core.v1.).

function flush() { n = 0 }

/^type [A-Za-z0-9_]+ struct \{/ { type = $2; in_struct = 1; flush(); next }
in_struct && /^\}/ { in_struct = 0; flush(); next }
!in_struct { next }
/^[ \t]*$/ { flush(); next }
/^\t\/\// {
	line = $0
	sub(/^\t\/\/ ?/, "", line)
	if (line ~ /^\+(default|kubebuilder:default|kubebuilder:validation:[A-Za-z]+)=/) {
		eq = index(line, "=")
		m[++n] = substr(line, 2, eq - 2) "\t" substr(line, eq + 1)
	}
	next
}
/^\t[A-Za-z_*.]/ && /`json:"/ {
	tag = $0
	sub(/^[^`]*`/, "", tag)
	match(tag, /json:"[^"]*"/)
	json = substr(tag, RSTART + 6, RLENGTH - 7)
	name = json
	sub(/,.*/, "", name)
	if (name == "" || json ~ /,inline/) {
		emb = ($2 ~ /^`/) ? $1 : $2
		sub(/^\*/, "", emb)
		if (emb ~ /^metav1\./) { sub(/^metav1\./, "", emb); emb = "io.k8s.apimachinery.pkg.apis.meta.v1." emb }
		else emb = pkg emb
		print "E\t" pkg type "\t" emb
	} else {
		for (i = 1; i <= n; i++) print "F\t" pkg type "\t" name "\t" m[i]
	}
	flush()
	next
}
# anything else (nested struct literals, non-json fields) ends a field's doc block
{ flush() }
