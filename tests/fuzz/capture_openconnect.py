#!/usr/bin/env python3
"""Records what the real openconnect sends, as seeds for the fuzz corpus.

A minimal AnyConnect server on 127.0.0.1 (TLS with a throw-away self-signed certificate, and a UDP
socket for DTLS) walks openconnect through the login exchange and CONNECT, then writes into OUT_DIR:

  http_request/oc_post_init.http       the first POST (config-auth type="init"), as received
  http_request/oc_post_auth_reply.http the POST with the credentials
  http_request/oc_connect.http         the CONNECT request head
  config_auth/oc_init.xml              the two POST bodies
  config_auth/oc_auth_reply.xml
  cstp_frames/oc_stream.bin            the client's CSTP frames after CONNECT: the first of each
                                       kind (keepalive, DPD, data: one ICMP echo) and the
                                       DISCONNECT it sends when stopped
  dtls/oc_client_hello.bin             the first UDP datagram: the DTLS ClientHello for
                                       PSK-NEGOTIATE, App-ID in session_id

Run as root or not (no tun device: openconnect runs with --script-tun and a script that writes one
ICMP packet into the tunnel). Used once to make the committed seeds:
  python3 tests/fuzz/capture_openconnect.py tests/fuzz/corpus
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

OUT = sys.argv[1] if len(sys.argv) > 1 else "corpus"
APP_ID = bytes(range(0xA0, 0xC0))  # 32 bytes, as tandemd makes them

INIT_REPLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<config-auth client="vpn" type="auth-request" aggregate-auth-version="2">
<opaque is-for="sg"><tunnel-group>default</tunnel-group></opaque>
<auth id="main">
<message>Please enter your username and password.</message>
<form method="post" action="/">
<input type="text" name="username" label="Username:" />
<input type="password" name="password" label="Password:" />
</form>
</auth>
</config-auth>
"""

DONE_REPLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<config-auth client="vpn" type="complete" aggregate-auth-version="2">
<session-token>1.0123456789abcdef0123456789abcdef</session-token>
<auth id="success"><message>Login successful.</message></auth>
</config-auth>
"""

# One ICMP echo from the client's address to 10.77.0.1, written into the tunnel by the script.
TUN_SCRIPT = r"""#!/usr/bin/env python3
import os, socket, struct, time
fd = int(os.environ["VPNFD"])
s = socket.socket(fileno=fd)
def csum(b):
    if len(b) % 2: b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"tandem-fuzz-seed"
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0,
                  socket.inet_aton("10.77.0.2"), socket.inet_aton("10.77.0.1"))
hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
time.sleep(0.3)
s.send(hdr + icmp)
time.sleep(30)
"""


def read_request(conn):
    """One HTTP request head (+ body by Content-Length), raw."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        rest += conn.recv(65536)
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def collect(conn, leftover, oc):
    """The client's CSTP frames: answers DPD, keeps the first frame of each (type, length) and
    every data frame; stops openconnect (SIGINT: it sends DISCONNECT) once data has flowed."""
    conn.settimeout(0.2)
    buf, kept, seen = leftover, [], set()
    stopped = False
    deadline = time.time() + 20
    while time.time() < deadline:
        while len(buf) >= 8 and len(buf) >= 8 + (buf[4] << 8 | buf[5]):
            n = 8 + (buf[4] << 8 | buf[5])
            frame, buf = buf[:n], buf[n:]
            kind = frame[6]
            print(f"CSTP frame from the client: type {kind}, {n} bytes")
            if kind == 3:
                try:
                    conn.sendall(b"STF\x01" + frame[4:6] + b"\x04\x00" + frame[8:])
                except OSError:
                    return b"".join(kept)
            if kind == 0 or (kind, n) not in seen:
                kept.append(frame)
                seen.add((kind, n))
            if kind == 5:
                return b"".join(kept)
        if not stopped and any(f[6] == 0 for f in kept) and any(f[6] == 7 for f in kept):
            oc.send_signal(2)
            stopped = True
        try:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
        except (socket.timeout, ssl.SSLError):
            pass
        except OSError:
            break
    return b"".join(kept)


def save(path, data):
    full = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    print(f"wrote {full} ({len(data)} bytes)")


def main():
    work = tempfile.mkdtemp(prefix="tandem-capture-")
    key, crt = os.path.join(work, "k.pem"), os.path.join(work, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    pin = subprocess.run(
        f"openssl x509 -in {crt} -pubkey -noout | openssl pkey -pubin -outform der | "
        "openssl dgst -sha256 -binary | base64", shell=True, check=True,
        capture_output=True).stdout.decode().strip()
    script = os.path.join(work, "tun.py")
    with open(script, "w") as f:
        f.write(TUN_SCRIPT)
    os.chmod(script, 0o755)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    port = lsock.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    udp.settimeout(20)

    hello = {}

    def udp_loop():
        try:
            hello["data"], peer = udp.recvfrom(65536)
            # A fatal handshake_failure alert: the client gives DTLS up at once and brings the
            # tunnel up over CSTP (it holds the tun back during its first DTLS attempt).
            udp.sendto(bytes.fromhex("15fefd00000000000000000002" "0228"), peer)
        except OSError:
            pass

    threading.Thread(target=udp_loop, daemon=True).start()
    oc = subprocess.Popen(
        ["openconnect", "--protocol=anyconnect", f"--servercert=pin-sha256:{pin}",
         "--user=alice", "--passwd-on-stdin", "--script-tun", "--script", script,
         "--non-inter", f"https://127.0.0.1:{port}/"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    oc.stdin.write(b"secret\n")
    oc.stdin.close()

    posts = []
    stream = b""
    lsock.settimeout(20)
    while True:
        raw, _ = lsock.accept()
        conn = ctx.wrap_socket(raw, server_side=True)
        leftover = b""
        while True:
            req, leftover = read_request(conn)
            if not req:
                break
            if req.startswith(b"POST"):
                posts.append(req)
                body = INIT_REPLY if len(posts) == 1 else DONE_REPLY
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n" +
                             (b"Set-Cookie: webvpn=1.0123456789abcdef0123456789abcdef; Secure\r\n"
                              if len(posts) > 1 else b"") +
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)
            elif req.startswith(b"CONNECT"):
                save("http_request/oc_connect.http", req)
                conn.sendall(
                    b"HTTP/1.1 200 CONNECTED\r\nX-CSTP-Version: 1\r\n"
                    b"X-CSTP-Address: 10.77.0.2\r\nX-CSTP-Netmask: 255.255.255.0\r\n"
                    b"X-CSTP-DNS: 10.77.0.1\r\nX-CSTP-DPD: 2\r\nX-CSTP-Keepalive: 1\r\n"
                    b"X-CSTP-Idle-Timeout: 1800\r\nX-CSTP-Rekey-Method: none\r\n"
                    b"X-CSTP-MTU: 1399\r\nX-CSTP-Base-MTU: 1500\r\n"
                    b"X-DTLS-Port: %d\r\nX-DTLS-App-ID: %s\r\n"
                    b"X-DTLS-CipherSuite: PSK-NEGOTIATE\r\nX-DTLS-Rekey-Method: none\r\n\r\n"
                    % (port, APP_ID.hex().encode()))
                stream = collect(conn, leftover, oc)
                break
        if stream:
            break
    try:
        oc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # it may try a logout POST nobody answers
        oc.kill()
        oc.wait()
    print(oc.stdout.read().decode(errors="replace"))
    if len(posts) >= 2:
        save("http_request/oc_post_init.http", posts[0])
        save("http_request/oc_post_auth_reply.http", posts[1])
        save("config_auth/oc_init.xml", posts[0].partition(b"\r\n\r\n")[2])
        save("config_auth/oc_auth_reply.xml", posts[1].partition(b"\r\n\r\n")[2])
    save("cstp_frames/oc_stream.bin", stream)
    if "data" in hello:
        save("dtls/oc_client_hello.bin", hello["data"])
    else:
        print("no DTLS ClientHello arrived", file=sys.stderr)


if __name__ == "__main__":
    main()
