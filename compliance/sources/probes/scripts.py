"""The shell scripts the probe containers run (busybox sh, nc, timeout, dd, od): the .sh
files beside this module, read from the installed package.

Each probe prints "@@<kind> <fields...>" lines and "@@done" last: a probe
without "@@done" did not finish, and its observations are incomplete
(compliance/sources/probes/parse.py reads them).
"""

from importlib.resources import files


def _read(name: str) -> str:
    return (files(__package__) / name).read_text()


RETRY_REFUSED = _read("retry.sh")  # the `try` function, put before the scripts that connect
CONNECT_SCRIPT = RETRY_REFUSED + _read("connect.sh")
SSL_SCRIPT = RETRY_REFUSED + _read("ssl.sh")
SSL_EXCHANGE = _read("ssl_exchange.sh")  # what nc runs over each connection of SSL_SCRIPT
WRITE_SCRIPT = _read("write.sh")
