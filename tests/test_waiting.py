"""tests/waiting.py, the live tests' one way to wait, checked on this process itself."""

import os
import socket
from types import SimpleNamespace

import pytest

from tests.waiting import listening, wait_until


def test_it_returns_what_the_predicate_found_once_it_holds():
    answers = iter([None, 0, "up"])
    assert wait_until(lambda: next(answers), interval=0) == "up"


def test_it_gives_up_after_the_timeout_naming_what_never_happened():
    with pytest.raises(TimeoutError, match=r"^waited 0\.05 s for db on 5432: it never happened$"):
        wait_until(lambda: False, timeout=0.05, interval=0.01, what="db on 5432")


@pytest.mark.parametrize("family, address", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_listening_reads_the_sockets_of_the_main_process_network_namespace(family, address):
    """This process stands in for a container's main process: a Pid is all `listening` reads."""
    me = SimpleNamespace(attrs={"State": {"Pid": os.getpid()}}, reload=lambda: None)
    with socket.socket(family) as server:
        server.bind((address, 0))
        port = server.getsockname()[1]
        assert not listening(me, port)  # bound, not yet listening
        server.listen()
        assert listening(me, port)
    assert not listening(me, port)
    assert not listening(SimpleNamespace(attrs={"State": {"Pid": 0}}, reload=lambda: None), port)
