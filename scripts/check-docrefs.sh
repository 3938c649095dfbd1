#!/usr/bin/env bash
# Every repository path a document or a source comment names exists, so a reader can follow it (issue 16:
# "references in comments point at files in the repository"), and every module has a note. Read: README.md,
# */README.md and docs/**/*.md (all of each file), and the comments (/* */ and //, not string literals) of
# the C sources under operator/, webhook/ and tests/ (fuzz corpora aside).
#
# The rules, chosen so that nothing but a real path is checked:
#   1. A root path is a token that starts with one of the repository's top-level source folders (operator/,
#      webhook/, tests/, docs/, scripts/, crds/, config/, charts/, .ci/) right after a space, a quote, a backtick
#      or a bracket (not after "/", "." or a letter: the tail of a URL or of a Go import path such as
#      sigs.k8s.io/controller-runtime/pkg/webhook is not one). It must exist, as a file or a folder, from the
#      repository root; one without a file extension may name a module (webhook/offload: webhook/offload.c or
#      .h). "a/b.{h,c}" names both a/b.h and a/b.c.
#   2. A short spelling is a token that starts with one of our source folders' own names (base/, kube/, runtime/,
#      spin/, controller/, cmd/, verify/, certs/, and the names they had before issue 16: util/, build/,
#      leader/, informer/, metrics/) and ends in .c or .h. It must exist relative to the naming file's folder
#      (webhook/admission.c may say verify/policy.h); anywhere else it must be written from the root.
#   3. In Markdown, a relative link target ("](x.md)", "](../y.md#anchor)") must exist relative to the
#      document's folder.
#   4. A bare file name ending in .c or .h (no folder: "recorder.h", "the verifier (verifier.c)") must be the name
#      of a file under operator/, webhook/, tests/ or scripts/ (no name is used twice under operator/ and
#      webhook/, scripts/check-layers.sh sees to it, so the name says which file), or a library's header
#      (found in /usr/include, or one of LIBRARY_HEADERS below: the -dev packages may be absent).
#   5. Every module under operator/ and webhook/ (a .c, or a header without one: admission_ctx.h) is named in
#      the table "One note per module" of docs/internals/README.md: `foo` for foo.c, `foo.h` for a header alone.
#   Not checked: URLs (anything after "scheme://" up to a space); tokens with a glob or a placeholder in them
#   (* ? [ < > $ or "..."): tests/unit/test_<name>.c, webhook/verify/registry*.c; build outputs (build/...
#   other than a .c or .h, which never lives there); a path right after the word "upstream" or "upstream's"
#   (upstream's `config/crd/bases/`: the Go project's tree); a token starting with ./ or ../ outside a link
#   (relative to a folder the prose names); a module named without a file extension in prose
#   ("kube/client", upstream's "util/workqueue"); a "#anchor" (the file is checked, not the heading); a Markdown
#   region between <!-- docrefs:off --> and <!-- docrefs:on --> (history that names paths which are gone); the
#   placeholder file names foo.c, foo.h and foo_*.h.
# Prints one line per problem ("FILE:LINE: names PATH, which does not exist") and exits 1 when there is any.
#   scripts/check-docrefs.sh [ROOT [FILE...]]     (FILEs, relative to ROOT: check only those; rule 5 is skipped)
set -uo pipefail
cd "${1:-$(dirname "$0")/..}" || exit 2
shift $(($# > 0))
LIBRARY_HEADERS="yaml.h jansson.h microhttpd.h curl.h"
bad=0
files=("$@")
[ $# -gt 0 ] || while IFS= read -r f; do files+=("$f"); done < <(
	ls README.md */README.md 2>/dev/null
	find docs -name '*.md' 2>/dev/null
	find operator webhook tests -name '*.[ch]' -not -path '*/corpus/*' 2>/dev/null
)
if [ $# -eq 0 ] && [ -f docs/internals/README.md ]; then
	table=$(sed -n '/^## One note per module/,/^## /p' docs/internals/README.md)
	while IFS= read -r f; do
		b=${f##*/}
		[[ $f == *.h && -e ${f%.h}.c ]] && continue
		[[ $f == *.c ]] && key="\`${b%.c}\`" || key="\`$b\`"
		grep -qF -- "$key" <<<"$table" && continue
		echo "$f: a module with no row in docs/internals/README.md (One note per module)"
		bad=1
	done < <(find operator webhook -name '*.[ch]' | sort)
fi
LIBRARY_HEADERS=$LIBRARY_HEADERS perl -CSD -e '
use strict; use warnings;
my $roots = qr{(?:operator|webhook|tests|docs|scripts|crds|config|charts|\.ci)/};
my $short = qr{(?:base|kube|runtime|spin|controller|cmd|verify|certs|util|build|leader|informer|metrics)/};
my $bad = 0;
my %ours = map { $_ => 1 } split /\n/, `find operator webhook tests scripts -type f -printf "%f\\n" 2>/dev/null`;
my %lib = map { $_ => 1 } split / /, $ENV{LIBRARY_HEADERS};
sub expand { # "a/b.{h,c}" -> ("a/b.h", "a/b.c")
	my ($p) = @_;
	return ($p) unless $p =~ /^(.*?)\{([^{}]*)\}(.*)$/;
	my ($pre, $alts, $post) = ($1, $2, $3);
	return map { expand("$pre$_$post") } split /,/, $alts, -1;
}
sub exists_any { my ($base, $p) = @_; for (expand($p)) { return 0 unless -e ($base eq "" ? $_ : "$base/$_") } 1 }
sub module_exists { my ($p) = @_; $p !~ m{\.[^/]*$} && (-e "$p.c" || -e "$p.h") }
sub report { my ($f, $line, $p, $why) = @_; print "$f:$line: names $p, $why\n"; $bad = 1 }
sub check { # file, its folder, text, line of the text'"'"'s start, is markdown
	my ($f, $dir, $s, $line0, $md) = @_;
	my @lines = split /\n/, $s, -1;
	for my $i (0 .. $#lines) {
		my $l = $lines[$i];
		my $line = $line0 + $i;
		next unless $l =~ m{/|\.[ch]\b|\]\(};
		$l =~ s{\b[a-z][a-z0-9+.-]*://\S*}{ }g;
		if ($md) {
			while ($l =~ m{\]\(([^()\s]+)\)}g) {
				my $p = $1;
				next if $p =~ m{^(?:#|mailto:|/)} || $p =~ m{[*?<>\$]};
				$p =~ s/#.*//;
				report($f, $line, $p, "a link to something that does not exist") unless exists_any($dir, $p);
			}
		}
		while ($l =~ m{(?<![\w./~\$\\-])((?:\.\.?/)*[\w.][\w./{},*?<>\$\[\]+-]*/[\w./{},*?<>\$\[\]+\x{2026}-]*)}g) {
			my $p = $1;
			next if substr($l, 0, $-[1]) =~ m{upstream(?:\x27s)?[\s`(]*$};
			$p =~ s/[.,;:]+$//;
			next if $p =~ m{[*?<>\$\[\]\x{2026}]|\.\.\.};
			$p =~ s/#.*//;
			if ($p =~ m{^\.\.?/}) {
				next;
			} elsif ($p =~ m{^$roots}) {
				report($f, $line, $p, "which does not exist") unless exists_any("", $p) || module_exists($p);
			} elsif ($p =~ m{^$short} && $p =~ m{\.[ch]$}) {
				next if exists_any($dir, $p);
				report($f, $line, $p, "a short spelling: write the path from the repository root");
			}
		}
		while ($l =~ m{(?<![\w./~\$\\<-])([A-Za-z_][\w-]*\.[ch])(?![\w/(-])}g) {
			my $n = $1;
			next if $ours{$n} || $lib{$n} || $n =~ /^foo(?:_\w+)?\.[ch]$/ || -e "/usr/include/$n";
			report($f, $line, $n, "which is no file of ours");
		}
	}
}
for my $f (@ARGV) {
	open my $fh, "<", $f or do { print "$f: cannot read\n"; $bad = 1; next };
	local $/; my $t = <$fh>; close $fh;
	(my $dir = $f) =~ s{/?[^/]*$}{};
	$dir = "." if $dir eq "";
	if ($f =~ /\.md$/) {
		# blank out the regions that are off, keeping the line numbers
		$t =~ s{(<!--\s*docrefs:off\b.*?-->.*?(?:<!--\s*docrefs:on\b.*?-->|\z))}{ (my $x = $1) =~ s/[^\n]//g; $x }gse;
		check($f, $dir, $t, 1, 1);
	} else {
		while ($t =~ m{"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27|(/\*.*?\*/|//[^\n]*)}gs) {
			next unless defined $1;
			my $c = $1;
			my $line = 1 + (substr($t, 0, $-[1]) =~ tr/\n//);
			check($f, $dir, $c, $line, 0);
		}
	}
}
exit $bad;
' "${files[@]}" || bad=1
exit $bad
