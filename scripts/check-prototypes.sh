#!/bin/sh
# Each function is declared once, in a header: the compiler checks a signature across files only
# when every caller and the definition see the same declaration. This check fails (naming
# file:line) on a non-static function prototype or an `extern` declaration written inside a .c
# file. Prototypes are looked for at file scope (brace depth 0; a declaration may span lines, and a
# definition is told apart by the `{` that follows its parameter list); `extern` at any depth.
# Comments, string literals and preprocessor lines (with their continuations) are skipped.
#   scripts/check-prototypes.sh [dir...]    (default: the source folders of the tree)
set -eu
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || set -- engine instancemgr conf plugin tests bench examples
files=$(find "$@" -name '*.c' -type f 2>/dev/null | sort)
[ -n "$files" ] || { echo "check-prototypes: no .c files under $*" >&2; exit 2; }
# shellcheck disable=SC2086 # $files is a list of paths without blanks
awk '
FNR == 1 { depth = 0; incomment = 0; pending = ""; pline = 0; cont = 0 }
{
    if (cont) { cont = ($0 ~ /\\$/); next }      # continuation of a preprocessor line
    line = $0
    # Strip comments (block comments may span lines) and string/char literals.
    out = ""
    while (length(line) > 0) {
        if (incomment) {
            i = index(line, "*/")
            if (i == 0) { line = ""; break }
            line = substr(line, i + 2); incomment = 0; continue
        }
        c = substr(line, 1, 1); two = substr(line, 1, 2)
        if (two == "/*") { incomment = 1; line = substr(line, 3); continue }
        if (two == "//") { line = ""; break }
        if (c == "\"" || c == "\047") {
            q = c; line = substr(line, 2)
            while (length(line) > 0) {
                d = substr(line, 1, 1)
                if (d == "\\") { line = substr(line, 3); continue }
                line = substr(line, 2)
                if (d == q) break
            }
            out = out q q; continue
        }
        out = out c; line = substr(line, 2)
    }
    if (out ~ /^[ \t]*#/) { cont = ($0 ~ /\\$/); next }
    if (depth > 0 && out ~ /^[ \t]*extern[ \t]/) {
        printf "%s:%d: extern declaration in a .c file (declare it in a header)\n", FILENAME, FNR
        bad = 1
    }
    if (depth == 0) {
        if (pending == "" && out ~ /[A-Za-z_]/) { pending = out; pline = FNR }
        else if (pending != "") pending = pending " " out
    }
    for (i = 1; i <= length(out); i++) {
        ch = substr(out, i, 1)
        if (ch == "{") {
            if (depth == 0) pending = ""           # a definition, initializer or type body
            depth++
        } else if (ch == "}") {
            depth--
        } else if (ch == ";" && depth == 0) {
            d = pending
            if (d ~ /^[ \t]*extern[ \t]/ && d !~ /^[ \t]*extern[ \t]+"C"/) {
                printf "%s:%d: extern declaration in a .c file (declare it in a header)\n", FILENAME, pline
                bad = 1
            } else if (d ~ /\(/ && d !~ /(^|[ \t])(static|typedef)[ \t]/ && d !~ /=/ &&
                       d !~ /^[ \t]*(struct|union|enum)[ \t]+[A-Za-z_0-9]+[ \t]*;/ &&
                       d ~ /^[ \t]*[A-Za-z_][A-Za-z_0-9 \t\*]*[ \t\*][A-Za-z_][A-Za-z_0-9]*[ \t]*\(/) {
                printf "%s:%d: non-static function prototype in a .c file (declare it in a header)\n", FILENAME, pline
                bad = 1
            }
            pending = ""
        }
    }
}
END { exit bad ? 1 : 0 }
' $files
