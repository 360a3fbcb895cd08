"""The sockets under the local SendGrid-compatible API server: HTTP or HTTPS, a thread per connection, a clean stop.

ThreadedServer knows nothing of SendGrid: the core (tools/sendgrid_api_server.py) subclasses it with its request
handler, its state and its in-process API.  It binds IPv4 or IPv6, wraps connections in TLS when given an SSL
context (the handshake itself happens in the connection's thread, see the handler's setup), runs each connection
in its own daemon thread named "sendgrid-PORT-conn-N", and stop() closes idle keep-alive connections and joins
their threads, so a stopped server leaves no thread behind.
"""

import contextlib
import socket
import socketserver
import ssl
import sys
import threading
import time
from http.server import ThreadingHTTPServer


class ThreadedServer(ThreadingHTTPServer):  # pylint: disable=too-many-instance-attributes
    """A threaded HTTP(S) server whose connections are tracked so stop() can close them."""

    daemon_threads = True

    def __init__(self, address, handler_class, ssl_context=None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.ssl_context = ssl_context
        # set by stop(): waits in handlers (delays, latency) end at once
        self.stop_event = threading.Event()
        # the thread running serve_forever(), when one does (start_server sets it)
        self.serving_thread = None
        self._open = {}
        self._open_lock = threading.Lock()
        super().__init__(address, handler_class)

    # -- socketserver hooks

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on a sandbox without DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        request, client_address = super().get_request()
        if self.ssl_context is not None:
            try:
                # no handshake yet: the handler's setup does it in the connection's thread
                request = self.ssl_context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            except OSError:
                request.close()
                raise
        return request, client_address

    def process_request(self, request, client_address):
        # own daemon threads, tracked so stop() can close idle keep-alive connections and join them
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"sendgrid-{self.port}-conn-{client_address[1]}", daemon=True)
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def shutdown_request(self, request):
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # clients vanishing mid-answer (timeouts, drop faults) or refusing the certificate are expected: no traceback
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout, ssl.SSLError)):
            return
        super().handle_error(request, client_address)

    # -- lifecycle

    @property
    def host(self):
        """The address the socket is bound to."""
        return self.server_address[0]

    @property
    def port(self):
        """The port actually bound (useful with port 0)."""
        return self.server_address[1]

    @property
    def url(self):
        """Base URL, e.g. http://127.0.0.1:40123 (https://... when serving TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'http' if self.ssl_context is None else 'https'}://{host}:{self.port}"

    def stop(self, timeout=5.0):
        """Stop serving, close open connections, join their threads and close the socket."""
        self.stop_event.set()
        if self.serving_thread is not None:
            self.shutdown()
            self.serving_thread.join(timeout)
            self.serving_thread = None
        with self._open_lock:
            open_connections = list(self._open.items())
        for sock, dummy in open_connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for dummy, thread in open_connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.server_close()
