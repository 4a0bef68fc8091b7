#!/bin/sh
# Run by nc over a connection (ssl.sh): sends PostgreSQL's SSLRequest (length 8, code
# 80877103, in octal for printf) and prints the first byte answered, in hex, on stderr.
printf '\000\000\000\010\004\322\026\057'
timeout 3 dd bs=1 count=1 2>/dev/null | od -An -tx1 >&2
