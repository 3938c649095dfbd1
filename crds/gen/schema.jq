# Resolves a CRD skeleton (crds/src/*.json) into a complete CustomResourceDefinition.
#
# Input (.): the skeleton. Every node of .spec.versions[].schema.openAPIV3Schema is an ordinary CRD schema
# node, except that it may carry "$ref": "#/components/schemas/<name>[/<json pointer into it>]" naming a
# definition of the Kubernetes OpenAPI v3 spec; the node then becomes that definition, fully inlined, with
# the node's other keys laid over it (so a field's own description wins over the type's).
#
# Arguments:
#   $spec     (--slurpfile) the Kubernetes OpenAPI v3 document that holds the referenced definitions
#   $markers  (--rawfile)   field markers read from the Go types by markers.awk (default/kubebuilder markers)
#
# Output: the CRD as controller-gen would lay it out from the same Go types: definitions inlined, the
# apimachinery types replaced by controller-gen's fixed schemas (Quantity/IntOrString as int-or-string,
# ObjectMeta as a bare object, Time as a date-time string), defaults taken only from +default /
# +kubebuilder:default markers (the spec also carries zero-value defaults for every non-omitempty field,
# which controller-gen does not emit and which would make required fields silently optional),
# +kubebuilder:validation markers applied, OpenAPI-only keys dropped, `required` lists sorted.

def quantity_pattern:
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

# controller-gen's KnownPackages overrides (schemas it uses instead of the Go types).
def known:
  {
    "io.k8s.apimachinery.pkg.api.resource.Quantity":
      {anyOf: [{type: "integer"}, {type: "string"}], pattern: quantity_pattern, "x-kubernetes-int-or-string": true},
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
      {anyOf: [{type: "integer"}, {type: "string"}], "x-kubernetes-int-or-string": true},
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {type: "object"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {type: "string", format: "date-time"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": {type: "string", format: "date-time"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.Duration": {type: "string"},
    "io.k8s.apimachinery.pkg.runtime.RawExtension": {type: "object", "x-kubernetes-preserve-unknown-fields": true}
  };

# Keys a CRD schema node may carry; anything else in the output is an error.
def allowed_keys:
  ["description", "type", "format", "properties", "required", "items", "additionalProperties", "default",
   "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
   "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
   "anyOf", "allOf", "oneOf", "not", "nullable", "example",
   "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
   "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
   "x-kubernetes-validations"];

# Keys of the published spec that controller-gen would not produce from the Go types: defaults (re-derived
# from markers), enums from +enum (controller-gen ignores +enum), patch-strategy hints, GVK tags.
def spec_only_keys:
  ["default", "enum", "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key",
   "x-kubernetes-group-version-kind", "x-kubernetes-unions"];

# Applies f bottom-up to every schema node (not to the name->schema maps under "properties").
def schema_walk(f):
  (if (.properties | type) == "object" then .properties |= map_values(schema_walk(f)) else . end)
  | (if (.items | type) == "object" then .items |= schema_walk(f) else . end)
  | (if (.additionalProperties | type) == "object" then .additionalProperties |= schema_walk(f) else . end)
  | reduce ("allOf", "anyOf", "oneOf") as $k (.; if has($k) then .[$k] |= map(schema_walk(f)) else . end)
  | (if (.not | type) == "object" then .not |= schema_walk(f) else . end)
  | f;

# ---- markers ----------------------------------------------------------------------------------------

def parse_markers:
  split("\n") | map(select(length > 0) | split("\t"))
  | reduce .[] as $l ({fields: {}, embeds: {}};
      if $l[0] == "E" then .embeds[$l[1]] += [$l[2]]
      else .fields[$l[1]][$l[2]] += [[$l[3], ($l[4:] | join("\t"))]] end);

# One marker -> the schema keys it sets (controller-gen semantics).
def marker_overlay:
  .[0] as $m | .[1] as $v
  | ($v | if test("^`.*`$") then .[1:-1] else . end) as $s
  | if $m == "default" then
      (if ($v | startswith("ref(")) then {} else {default: ($v | fromjson)} end)   # controller-gen skips ref(...)
    elif $m == "kubebuilder:default" then {default: ($v | fromjson? // $v)}
    elif $m == "kubebuilder:validation:Pattern" then {pattern: $s}
    elif $m == "kubebuilder:validation:Enum" then {enum: ($s | split(";"))}
    elif $m == "kubebuilder:validation:Format" then {format: $s}
    elif $m == "kubebuilder:validation:Type" then {type: $s}
    elif ($m | test("^kubebuilder:validation:(MaxLength|MinLength|Minimum|Maximum|MaxItems|MinItems)$")) then
      ($m | ltrimstr("kubebuilder:validation:")) as $n
      | {(($n[0:1] | ascii_downcase) + $n[1:]): ($s | tonumber)}
    else error("unsupported marker +\($m)=\($v)") end;

# Field markers of a type, including those of structs it embeds inline: {field: [[marker, value], ...]}.
def type_markers($mk; $t):
  (reduce ($mk.embeds[$t] // [])[] as $e ({}; . + type_markers($mk; $e))) + ($mk.fields[$t] // {});

# Every type a type embeds inline, transitively.
def embedded_types($mk; $t):
  ($mk.embeds[$t] // [])[] | ., embedded_types($mk; .);

# ---- resolution -------------------------------------------------------------------------------------

# {allOf: [{$ref: X}], ...siblings} -> {$ref: X, ...siblings}
def unwrap_allof:
  if (.allOf | type) == "array" and (.allOf | length) == 1 and (.allOf[0] | keys) == ["$ref"] then
    .["$ref"] = .allOf[0]["$ref"] | del(.allOf)
  else . end;

# "$ref" -> [where, name, pointer...]: where is "spec" (the OpenAPI document) or "local" (the skeleton's
# top-level "definitions", for spin-specific types used more than once).
def ref_parts:
  (if startswith("#/components/schemas/") then ["spec"] + (ltrimstr("#/components/schemas/") | split("/"))
   elif startswith("#/definitions/") then ["local"] + (ltrimstr("#/definitions/") | split("/"))
   else error("unsupported $ref \(.)") end)
  | map(gsub("~1"; "/") | gsub("~0"; "~"));

def resolve($spec; $defs; $mk; $stack):
  def type_schema($name; $stack):
    if known[$name] != null then known[$name]
    elif $spec.components.schemas[$name] == null then error("definition \($name) not in the OpenAPI spec")
    elif ($stack | index([$name])) != null then error("recursive definition \($stack + [$name] | join(" -> "))")
    else
      type_markers($mk; $name) as $tm
      | $spec.components.schemas[$name]
      | schema_walk(reduce spec_only_keys[] as $k (.; del(.[$k])))
      # controller-gen merges an inline-embedded struct's schema into the embedding one, so the
      # embedder inherits its x-kubernetes-map-type (e.g. ConfigMapVolumeSource gets LocalObjectReference's
      # "atomic"); the published spec does not do that.
      | reduce ([embedded_types($mk; $name)] | map($spec.components.schemas[.]["x-kubernetes-map-type"] // empty))[] as $mt
          (.; if has("x-kubernetes-map-type") then . else .["x-kubernetes-map-type"] = $mt end)
      | (if (.properties | type) == "object" then
           .properties |= with_entries(
             .key as $f
             | .value |= reduce (($tm[$f] // []) | (map(select(.[0] != "kubebuilder:default")) + map(select(.[0] == "kubebuilder:default"))))[] as $m
                 (.; . * ($m | marker_overlay)))
         else . end)
      | resolve($spec; $defs; $mk; $stack + [$name])
    end;
  def local_schema($name; $stack):
    if $defs[$name] == null then error("definition \($name) not in the skeleton's definitions")
    elif ($stack | index(["#" + $name])) != null then error("recursive definition \($name)")
    else $defs[$name] | resolve($spec; $defs; $mk; $stack + ["#" + $name]) end;
  unwrap_allof
  | if has("$ref") then
      (.["$ref"] | ref_parts) as $p
      | del(.["$ref"]) as $siblings
      | (if $p[0] == "spec" then type_schema($p[1]; $stack) else local_schema($p[1]; $stack) end
         | getpath($p[2:])) as $target
      | if $target == null then error("no such path \($p | join("/"))") else . end
      | $target * ($siblings | resolve($spec; $defs; $mk; $stack))
    else
      (if (.properties | type) == "object" then .properties |= map_values(resolve($spec; $defs; $mk; $stack)) else . end)
      | (if (.items | type) == "object" then .items |= resolve($spec; $defs; $mk; $stack) else . end)
      | (if (.additionalProperties | type) == "object" then .additionalProperties |= resolve($spec; $defs; $mk; $stack) else . end)
      | reduce ("allOf", "anyOf", "oneOf") as $k (.; if has($k) then .[$k] |= map(resolve($spec; $defs; $mk; $stack)) else . end)
    end;

def finish:
  schema_walk(
    (if has("required") then .required |= unique else . end)
    | (keys - allowed_keys) as $bad
    | if ($bad | length) > 0 then error("schema keys not allowed in a CRD: \($bad | join(", "))") else . end);

($markers | parse_markers) as $mk
| (.definitions // {}) as $defs
| del(.definitions)
| .spec.versions |= map(.schema.openAPIV3Schema |= (resolve($spec[0]; $defs; $mk; []) | finish))
