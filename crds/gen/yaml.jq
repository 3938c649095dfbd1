# Renders a JSON document as block-style YAML (jq -r -f yaml.jq): mappings in key order, sequences
# not indented under their key, multi-line strings as literal blocks, other strings plain when that
# cannot change their meaning in YAML 1.1 or 1.2, else single- or double-quoted.

def spaces($n): [range($n)] | map(" ") | join("");

# YAML line breaks besides \n (NEL, LS, PS), other C0/C1 controls, DEL and the BOM: need double quotes.
def needs_escapes: test("[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]");

def double_quoted:
  tojson | gsub("\u007f"; "\\u007f") | gsub("\u0085"; "\\u0085") | gsub("\u2028"; "\\u2028")
  | gsub("\u2029"; "\\u2029") | gsub("\ufeff"; "\\ufeff");

# A plain scalar: starts with a letter, slash or underscore, holds no character with a meaning in block
# context (no ": ", " #", brackets, braces, backslash), no trailing blank, and is not a YAML 1.1
# bool/null. Numbers, dates and the like all start with a digit, sign or dot, so they are quoted.
def plain_ok:
  test("\\A([A-Za-z/_]|\\.[A-Za-z])([A-Za-z0-9 _./()=+,;'\"*<>@%&!?$^|`~-]|:[^ ]|#)*\\z")
  and (test("(: |:\\z| #| \\z)") | not)
  and (ascii_downcase | test("\\A(y|n|yes|no|true|false|on|off|null|\\.inf|\\.nan)\\z") | not);

def scalar:
  if type == "string" then
    if length == 0 then "\"\""
    elif needs_escapes or contains("\n") then double_quoted
    elif plain_ok then .
    else "'" + gsub("'"; "''") + "'" end
  elif type == "null" then "null"
  else tojson end;

# Literal block for multi-line strings that survive it byte for byte: no leading blank or newline
# (indentation detection), no trailing newline (chomping), no blank at a line end, no tab, nothing that
# needs escapes.
def literal_ok:
  type == "string" and contains("\n") and (needs_escapes | not)
  and (test("\\A[ \n]") | not) and (test("\n\\z") | not) and (test("[ \t]\n|[ \t]\\z|\t") | not);

# The text that follows "key:" or "-" for a value whose own children sit at indentation $n.
def render($n):
  if type == "object" and length > 0 then
    "\n" + (to_entries
      | map(spaces($n) + (.key | scalar) + ":"
            + (.value | if type == "array" then render($n) else render($n + 2) end))   # sequences sit at the key's column
      | join("\n"))
  elif type == "array" and length > 0 then
    "\n" + (map(spaces($n) + "-"
            + (if (type == "object" or type == "array") and length > 0
               then render($n + 2) | " " + ltrimstr("\n" + spaces($n + 2))            # first entry on the "-" line
               else render($n + 2) end))
      | join("\n"))
  elif type == "object" then " {}"
  elif type == "array" then " []"
  elif literal_ok then
    " |-\n" + (split("\n") | map(if length > 0 then spaces($n) + . else . end) | join("\n"))
  else " " + scalar end;

"---" + render(0)
