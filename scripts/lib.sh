# Helpers the check scripts share; source it from the repository root:
#   . scripts/lib.sh
# free_port prints a free loopback TCP port; ok and fail count and print
# results; summary prints the counts and fails when anything failed.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

passed=0; failed=0
ok()   { echo "ok   $1"; passed=$((passed+1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed+1)); }

# summary [NAME]: "NAME: P passed, F failed"; returns non-zero if F > 0.
summary() { echo "${1:+$1: }$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
